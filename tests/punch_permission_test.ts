/**
 * Hole punching under a narrow `--allow-net`: node:net checks Deno's permission a tick after a listen or bind
 * and throws there, past every handler, which ended the process. The punch sockets ask first.
 */
import assert from "node:assert/strict";

Deno.test("punch sockets outside the process's net permission fail softly instead of ending the process", async () => {
  const fixture = new URL("./fixtures/punch_without_permission.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-net=127.0.0.1", "--allow-read", fixture],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(stdout, "free: refused; connect: none; accept: none");
});
