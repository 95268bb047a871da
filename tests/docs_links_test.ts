/**
 * The documents a clone ships point at files a clone has: the design is docs/design.md, never the
 * ../shared/ARCHITECTURE.md of the machine it was written on, and every relative Markdown link resolves.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);
const DOCS = ["README.md", "SECURITY.md", "BENCHMARKS.md", "docs/design.md", "docs/protocol.md"];

async function* sources(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* sources(url);
    else if (/\.(ts|md|sh)$/.test(entry.name)) yield url;
  }
}

Deno.test("README, docs and sources point at docs/design.md, not at ../shared/ARCHITECTURE.md outside the repository", async () => {
  const files = [...DOCS.map((path) => new URL(path, ROOT)), new URL("mod.ts", ROOT), new URL("main.ts", ROOT)];
  for (const dir of ["lib/", "scripts/", "docs/"]) for await (const url of sources(new URL(dir, ROOT))) files.push(url);
  assert.match(await Deno.readTextFile(new URL("README.md", ROOT)), /\]\(docs\/design\.md\)/);
  for (const url of files) {
    const text = await Deno.readTextFile(url);
    assert.ok(!text.includes("ARCHITECTURE.md"), `${url.pathname} points at ARCHITECTURE.md, outside the repository`);
  }
});

Deno.test("every relative Markdown link in README and docs resolves to a file in the repository", async () => {
  for (const path of DOCS) {
    const base = new URL(path, ROOT);
    const text = await Deno.readTextFile(base);
    for (const [, target] of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // http(s), mailto
      const exists = await Deno.stat(new URL(target, base)).then(() => true, () => false);
      assert.ok(exists, `${path} links to ${target}, which does not exist`);
    }
  }
});
