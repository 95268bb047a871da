/**
 * Lists the import cycles among the modules under a directory (default `lib/`): every relative `import` and
 * `export ... from`, type-only ones included (a cycle of types still ties the modules together: neither can
 * move or be read without the other). Exits 1 when there is one, printing each strongly connected group of
 * modules with one cycle through it. `deno task check` runs it.
 *
 * Usage: `deno run --allow-read scripts/import-cycles.ts [DIR]`
 *
 * @module
 */
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** Relative specifiers of a module's static imports and re-exports (comments and strings aside). */
export function relativeImports(source: string): string[] {
  const out: string[] = [];
  // `import ... from "x"`, `import "x"`, `export ... from "x"`, across lines; not `import("x")`.
  const pattern = /(?:^|[;\n}])\s*(?:import|export)\s+(?:type\s+)?(?:[^"';]*?\s+from\s+)?["'](\.[^"']+)["']/g;
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  for (const match of code.matchAll(pattern)) out.push(match[1]);
  return out;
}

/** The strongly connected groups of more than one module (or a module importing itself), by Tarjan's algorithm. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>(), groups: string[][] = [];
  const visit = (node: string) => {
    indices.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, indices.get(next)!));
    }
    if (low.get(node) !== indices.get(node)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== node);
    if (group.length > 1 || (graph.get(node) ?? []).includes(node)) groups.push(group.sort());
  };
  for (const node of [...graph.keys()].sort()) if (!indices.has(node)) visit(node);
  return groups;
}

/** One cycle through `start` inside `group` (a path back to it), for the report. */
function cycleThrough(graph: ReadonlyMap<string, readonly string[]>, group: string[], start: string): string[] {
  const inGroup = new Set(group);
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of graph.get(node) ?? []) {
      if (!inGroup.has(next)) continue;
      if (next === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0])!);
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start];
}

/** The import graph of the `.ts` modules under `root`: module path (relative to `root`'s parent) to its imports. */
export async function importGraph(root: string): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  const base = dirname(root);
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && entry.name.endsWith(".ts")) {
        const imports = relativeImports(await Deno.readTextFile(path))
          .map((specifier) => relative(base, normalize(join(dirname(path), specifier))));
        graph.set(relative(base, path), imports);
      }
    }
  };
  await walk(root);
  return graph;
}

if (import.meta.main) {
  const root = Deno.args[0] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "lib");
  const graph = await importGraph(normalize(root));
  const found = cycles(graph);
  for (const group of found) {
    console.log(`import cycle among ${group.length} modules: ${cycleThrough(graph, group, group[0]).join(" -> ")}`);
    if (group.length > 2) console.log(`  (the group: ${group.join(", ")})`);
  }
  if (found.length > 0) Deno.exit(1);
  console.log(`no import cycles among the ${graph.size} modules under ${relative(Deno.cwd(), root) || "."}`);
}
