/**
 * scripts/compile.sh when the build fails (here: DENORT_BIN names no file, as when Deno's runtime cannot be
 * fetched): one line on stderr, exit 1, and no empty dist/ left behind. Runs in a temporary copy of the
 * sources so the repository is never touched.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("a failed deno task compile says why in one line and leaves no dist/ behind", async () => {
  const copy = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${copy}/scripts`);
    for (const path of ["main.ts", "mod.ts", "deno.json", "deno.lock", "lib", "scripts/compile.sh"]) {
      const copied = await new Deno.Command("cp", { args: ["-r", `${ROOT}${path}`, `${copy}/${path}`] }).output();
      assert.equal(copied.code, 0, `copied ${path}`);
    }
    const { code, stderr } = await new Deno.Command("sh", {
      args: [`${copy}/scripts/compile.sh`],
      env: { DENORT_BIN: `${copy}/no-such-denort`, NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(stderr).trim();
    assert.equal(code, 1, err);
    assert.equal(err.split("\n").length, 1, err);
    assert.match(err, /^kith: deno compile could not fetch Deno's runtime \(denort\)/);
    const left = await Deno.stat(`${copy}/dist`).then(() => true, () => false);
    assert.equal(left, false, "dist/ removed");
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});
