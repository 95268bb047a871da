/**
 * Checks that the library works from outside the repository exactly as the README's "From your own project"
 * section says: it takes that section's deno.json and app.ts (the blocks after the `external-use` markers),
 * writes them into a temporary directory outside the repository with `/path/to/kith` replaced by this
 * checkout, runs the program with `deno run --allow-net=127.0.0.1` (one node on 127.0.0.1:0, in-memory
 * storage, started and stopped; killed after 60 s at most), and removes the directory.
 *
 * Run: `deno run --allow-read --allow-write --allow-run scripts/check-external.ts`. Exit 0 and one line when
 * the program ran; exit 1 and the reason otherwise. npm packages come from Deno's cache or the npm registry.
 *
 * @module
 */
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The fenced block following `<!-- external-use: NAME -->` in the README. */
function block(readme: string, name: string): string {
  const marker = readme.indexOf(`<!-- external-use: ${name} -->`);
  if (marker < 0) throw new Error(`README.md has no <!-- external-use: ${name} --> marker`);
  const match = /```\w*\n([\s\S]*?)```/.exec(readme.slice(marker));
  if (!match) throw new Error(`README.md has no code block after the ${name} marker`);
  return match[1];
}

async function main(): Promise<number> {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const config = block(readme, "deno.json").replaceAll("/path/to/kith", ROOT);
  const program = block(readme, "app.ts");
  const dir = await Deno.makeTempDir({ prefix: "kith-external-" });
  try {
    if (dir.startsWith(`${ROOT}/`)) throw new Error(`the temporary directory ${dir} is inside the repository`);
    await Deno.writeTextFile(`${dir}/deno.json`, config);
    await Deno.writeTextFile(`${dir}/app.ts`, program);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net=127.0.0.1", "app.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).spawn();
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const { code, stdout, stderr } = await child.output().finally(() => clearTimeout(guard));
    const out = new TextDecoder().decode(stdout).trim();
    if (code !== 0 || !/^node [0-9a-f]{16} listening on 127\.0\.0\.1:\d+$/.test(out)) {
      console.error(
        `check-external: the README's program failed (exit ${code}): ${new TextDecoder().decode(stderr).trim() || out}`,
      );
      return 1;
    }
    console.log(`check-external: ok, from ${dir}: ${out}`);
    return 0;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exitCode = await main();
