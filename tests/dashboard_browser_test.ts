/**
 * The dashboard in a real browser: runs scripts/browser-check.ts (chromium + playwright-core, which needs broad
 * permissions) as a subprocess. `.ci/run` installs chromium; where it is absent this test is reported as ignored.
 */
import assert from "node:assert/strict";

const hasChromium = (() => {
  try {
    return Deno.statSync("/usr/bin/chromium").isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "dashboard in a browser: login by one-time code, peers fill, a published message reaches another node's page, scripts stay text",
  ignore: !hasChromium,
  fn: async () => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../scripts/browser-check.ts", import.meta.url).pathname],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const out = new TextDecoder().decode(stdout), err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, `${out}\n${err}`);
    assert.deepEqual(JSON.parse(out.trim().split("\n").at(-1)!), { ok: true });
  },
});
