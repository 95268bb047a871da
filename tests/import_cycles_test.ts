import assert from "node:assert/strict";
import { cycles, importGraph, relativeImports } from "../scripts/import-cycles.ts";

Deno.test("the import-cycle check reads type-only imports and re-exports, and finds a cycle made only of types", () => {
  const source = `/** a */\nimport type { A } from "./a.ts";\nimport { b } from "../b.ts";\n` +
    `export type { C } from "./c.ts";\n// import { d } from "./d.ts";\nconst e = await import("./e.ts");\n` +
    `import {\n  F,\n  type G,\n} from "./f.ts";\nimport "./side.ts";\n`;
  assert.deepEqual(relativeImports(source), ["./a.ts", "../b.ts", "./c.ts", "./f.ts", "./side.ts"]);
  const graph = new Map([
    ["links.ts", ["deficit.ts", "stats.ts"]],
    ["deficit.ts", ["links.ts"]],
    ["stats.ts", []],
    ["self.ts", ["self.ts"]],
  ]);
  assert.deepEqual(cycles(graph), [["deficit.ts", "links.ts"], ["self.ts"]]);
  assert.deepEqual(cycles(new Map([["a.ts", ["b.ts"]], ["b.ts", []]])), []);
});

Deno.test("no module under lib/ is in an import cycle, type-only imports included", async () => {
  const graph = await importGraph(new URL("../lib", import.meta.url).pathname);
  assert.ok(graph.size > 100, `the modules under lib/ were read (${graph.size})`);
  assert.deepEqual(cycles(graph), []);
});
