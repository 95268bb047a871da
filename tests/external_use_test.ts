/**
 * The library used from outside the repository as the README says (scripts/check-external.ts: the README's
 * deno.json and program in a temporary directory, one node on loopback started and stopped).
 */
import assert from "node:assert/strict";

Deno.test("the README's import map and program run from a directory outside the repository", async () => {
  const script = new URL("../scripts/check-external.ts", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-run", script],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const out = new TextDecoder().decode(stdout).trim();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.match(out, /^check-external: ok, from .*: node [0-9a-f]{16} listening on 127\.0\.0\.1:\d+$/);
});
