/**
 * Import-cycle check for `lib/` (part of `deno task lint`): follows every
 * static relative import of every module under `lib/` and fails, naming the
 * cycle, when a module reaches itself (type-only imports count); it also
 * fails when packages (folders of `lib/`) load each other in a circle,
 * directly or through others (type-only imports do not count there).
 *
 * Run: `deno run --allow-read=lib dev/import_cycles.ts`
 *
 * @module
 */

const IMPORT = /(?:^|\n)\s*(?:import|export)\s([^;]*?)from\s*"(\.{1,2}\/[^"]+\.ts)"/g;

/** True for `import type …` / `export type …` and for lists whose every name is `type X`. */
function typeOnly(clause: string): boolean {
  const c = clause.trim();
  if (c.startsWith("type ")) return true;
  const names = c.match(/^\{([\s\S]*)\}$/)?.[1].split(",").map((n) => n.trim()).filter(Boolean);
  return names !== undefined && names.length > 0 && names.every((n) => n.startsWith("type "));
}

/** Every `.ts` file under `dir`, as paths relative to the working directory. */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...walk(p));
    else if (e.isFile && p.endsWith(".ts")) out.push(p);
  }
  return out.sort();
}

/** `a/b/../c.ts` → `a/c.ts`. */
function normalize(path: string): string {
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "..") parts.pop();
    else if (p !== "." && p !== "") parts.push(p);
  }
  return parts.join("/");
}

/**
 * The module graph of `lib/`: file → the files it imports. With `values`,
 * type-only imports are left out (they load nothing at run time).
 */
export function importGraph(root = "lib", values = false): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of walk(root)) {
    // Imports inside JSDoc examples are not edges: drop comments first.
    const src = Deno.readTextFileSync(file).replace(/\/\*[\s\S]*?\*\//g, "");
    const dir = file.slice(0, file.lastIndexOf("/"));
    const deps = [...src.matchAll(IMPORT)]
      .filter((m) => !values || !typeOnly(m[1]))
      .map((m) => normalize(`${dir}/${m[2]}`));
    graph.set(file, [...new Set(deps)]);
  }
  return graph;
}

/** The first cycle found in `graph`, as a path that starts and ends at the same node, or null. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 1 | 2>(); // 1: on the stack, 2: done
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, 1);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 1) return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 2);
    return null;
  };
  for (const node of graph.keys()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return null;
}

/** The package graph: `lib/<package>/…` folders, edges where a file of one imports a file of another. */
export function packageGraph(graph: Map<string, string[]>): Map<string, string[]> {
  const pkg = (f: string) => f.split("/").length > 2 ? f.split("/")[1] : "mod";
  const out = new Map<string, Set<string>>();
  for (const [file, deps] of graph) {
    const from = pkg(file);
    if (from === "mod") continue;
    const set = out.get(from) ?? new Set();
    for (const d of deps) if (pkg(d) !== from && pkg(d) !== "mod") set.add(pkg(d));
    out.set(from, set);
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}

if (import.meta.main) {
  const graph = importGraph();
  const cycle = findCycle(graph);
  // Packages are layered by what they load: a type-only import across
  // packages (the run directory names the training config's type) is no edge.
  const packages = packageGraph(importGraph("lib", true));
  const packageCycle = findCycle(packages);
  if (Deno.args.includes("--packages")) {
    for (const [p, deps] of packages) console.log(`${p.padEnd(8)} → ${deps.join(", ")}`);
  }
  if (cycle) console.error(`import cycle in lib/: ${cycle.join(" → ")}`);
  if (packageCycle) console.error(`package cycle in lib/: ${packageCycle.join(" → ")}`);
  if (cycle || packageCycle) Deno.exit(1);
  console.log(`lib/: ${graph.size} modules, ${packages.size} packages, no import cycle`);
}
