// The layers of docs/ARCHITECTURE.md, checked on the code: every relative import of every .ts file
// under libs/ and services/ (value, type-only and dynamic imports alike) is read with the
// TypeScript parser, and the test fails on
//   - an import cycle between files (reported as the chain of files that closes it), and
//   - an import against the layer order ops → offline → servers → libs (a layer imports itself and
//     the layers below it, never one above; libs never import services), reported as
//     importer → imported and the rule it breaks.
// and on a cycle between folders (libs/<x>, services/<server>, services/offline/<x>, services/ops/<x>),
// reported with one import for each step.
// Test files (*.test.ts) are checked like the code they sit beside; only they may import test/.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Lowest first: a layer may import its own files and those of the layers before it. */
const LAYERS = ['libs', 'servers', 'offline', 'ops'] as const;
type Layer = (typeof LAYERS)[number];
const SERVERS = ['ann', 'blender', 'events', 'generators', 'ranker', 'viewer'];

/** The layer of a repository-relative path, 'outside' for code no layer holds (generated/, test/), undefined for a misplaced file. */
export function layerOf(file: string): Layer | 'outside' | undefined {
  const parts = file.split('/');
  if (parts[0] === 'libs') return 'libs';
  if (parts[0] !== 'services') return 'outside';
  if (parts[1] === 'offline' || parts[1] === 'ops') return parts.length > 3 ? parts[1] : undefined;
  if (SERVERS.includes(parts[1]) && parts.length > 2) return 'servers';
  if (parts.length === 2) return 'servers'; // services/servers.ts: the server layer's own list
  return undefined;
}

/** Why `from` may not import `to`, or undefined when it may. */
export function layerViolation(from: string, to: string): string | undefined {
  const a = layerOf(from);
  const b = layerOf(to);
  if (a === undefined || a === 'outside' || b === undefined) return undefined; // unplaced files fail on their own
  if (to.startsWith('test/'))
    return from.endsWith('.test.ts') ? undefined : `only test files may import test/ (${a} code must not)`;
  if (b === 'outside') return undefined;
  if (LAYERS.indexOf(b) <= LAYERS.indexOf(a)) return undefined;
  const allowed = LAYERS.slice(0, LAYERS.indexOf(a) + 1)
    .reverse()
    .join(', ');
  return `${a} may import ${allowed} only (layer order ${[...LAYERS].reverse().join(' → ')}), not ${b}`;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .filter((f) => !f.split('/').includes('node_modules'))
    .sort();
}

/**
 * Every module specifier a file imports: import/export … from, import type, import('…'),
 * import('…').T, and import(name) of a string constant of the file (a load the compiler does not check).
 */
export function importSpecifiers(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const constants = new Map<string, string>();
  const collect = (node: ts.Node) => {
    if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.initializer &&
      ts.isStringLiteralLike(node.initializer)
    )
      constants.set(node.name.text, node.initializer.text);
    ts.forEachChild(node, collect);
  };
  collect(source);
  const specs: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      specs.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
      const arg = node.arguments[0];
      const spec = ts.isStringLiteralLike(arg) ? arg.text : ts.isIdentifier(arg) ? constants.get(arg.text) : undefined;
      if (spec !== undefined) specs.push(spec);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      specs.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specs;
}

/** The folder a file belongs to, for the folder-level check: libs/ann, services/blender, services/ops/cli, … */
export function folderOf(file: string): string {
  const parts = file.split('/');
  const depth = parts[0] === 'services' && (parts[1] === 'offline' || parts[1] === 'ops') ? 3 : 2;
  return parts.length <= depth ? file : parts.slice(0, depth).join('/');
}

/** The import graph between folders, and for each folder edge one file import that makes it. */
function folderGraph(graph: Map<string, string[]>): { graph: Map<string, string[]>; example: Map<string, string> } {
  const edges = new Map<string, Set<string>>();
  const example = new Map<string, string>();
  for (const [from, targets] of graph) {
    const a = folderOf(from);
    if (!edges.has(a)) edges.set(a, new Set());
    for (const to of targets) {
      if (!graph.has(to)) continue;
      const b = folderOf(to);
      if (a === b) continue;
      edges.get(a)!.add(b);
      if (!example.has(`${a} ${b}`)) example.set(`${a} ${b}`, `${from} → ${to}`);
    }
  }
  return { graph: new Map([...edges].map(([a, bs]) => [a, [...bs].sort()])), example };
}

/** The repository files a file imports (relative imports only; `x.js` is the `x.ts` beside it). */
function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const spec of importSpecifiers(file, readFileSync(path.join(ROOT, file), 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      const asTs = target.replace(/\.js$/, '.ts');
      targets.add(known.has(asTs) ? asTs : target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/**
 * The import cycles of a graph, one per strongly connected component (Tarjan), each as the chain of
 * nodes that closes it: [a, b, c, a].
 */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const connect = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);
  return components.map((component) => shortestCycle(graph, new Set(component)));
}

/** The shortest cycle through the first node (in sort order) of a strongly connected component. */
function shortestCycle(graph: Map<string, string[]>, component: Set<string>): string[] {
  const start = [...component].sort()[0];
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const chain = [start];
        for (let u = v; u !== start; u = parent.get(u)!) chain.splice(1, 0, u);
        return [...chain, start];
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

describe('the checks can fail', () => {
  it('finds a cycle in a small graph, as a chain, and no cycle where there is none', () => {
    const graph = new Map([
      ['a.ts', ['b.ts', 'x.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts', 'd.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
    ]);
    expect(findCycles(graph)).toEqual(
      expect.arrayContaining([
        ['a.ts', 'b.ts', 'c.ts', 'a.ts'],
        ['e.ts', 'e.ts'],
      ]),
    );
    expect(findCycles(graph)).toHaveLength(2);
    expect(
      findCycles(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', ['c.ts']],
          ['c.ts', []],
        ]),
      ),
    ).toEqual([]);
    // No file cycle, but the folders go round: libs/a → libs/b → libs/a.
    const files = new Map([
      ['libs/a/x.ts', ['libs/b/y.ts']],
      ['libs/b/y.ts', ['libs/a/z.ts']],
      ['libs/a/z.ts', []],
    ]);
    expect(findCycles(files)).toEqual([]);
    const folders = folderGraph(files);
    expect(findCycles(folders.graph)).toEqual([['libs/a', 'libs/b', 'libs/a']]);
    expect(folders.example.get('libs/b libs/a')).toBe('libs/b/y.ts → libs/a/z.ts');
  });

  it('reads every kind of import', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      "export { c } from './c.js';",
      "export * from './d.js';",
      "const e = await import('./e.js');",
      "let f: import('./f.js').F;",
      "import 'node:fs';",
      "const specifier = './g.js';",
      'const g = await import(specifier);',
    ].join('\n');
    expect(importSpecifiers('x.ts', text)).toEqual([
      './a.js',
      '../b.js',
      './c.js',
      './d.js',
      './e.js',
      './f.js',
      'node:fs',
      './g.js',
    ]);
  });

  it('refuses imports up the layers, and allows them down', () => {
    expect(layerViolation('services/offline/eval/run-eval.ts', 'services/ops/mesh/run.ts')).toMatch(
      /offline may import offline, servers, libs only/,
    );
    expect(layerViolation('services/ann/service.ts', 'services/offline/indexer/cli.ts')).toMatch(
      /servers may import servers, libs only/,
    );
    expect(layerViolation('libs/ann/host.ts', 'services/ann/service.ts')).toMatch(/libs may import libs only/);
    expect(layerViolation('services/ann/testing.ts', 'test/fixtures/world.ts')).toMatch(/only test files/);
    expect(layerOf('services/misc/x.ts')).toBeUndefined();
    expect(layerOf('services/offline/stray.ts')).toBeUndefined();
    expect(layerOf('services/offline/eval/run-eval.ts')).toBe('offline');
    expect(folderOf('services/ops/cli/main.ts')).toBe('services/ops/cli');
    expect(folderOf('services/generators/pixie/generator.ts')).toBe('services/generators');
    expect(folderOf('services/servers.ts')).toBe('services/servers.ts');
    expect(folderOf('libs/data/batch/jobs/trending.ts')).toBe('libs/data');
    expect(layerViolation('services/ops/cli/main.ts', 'services/offline/eval/run-eval.ts')).toBeUndefined();
    expect(layerViolation('services/offline/eval/run-eval.ts', 'services/blender/service.ts')).toBeUndefined();
    expect(layerViolation('services/generators/pixie/generator.test.ts', 'test/fixtures/world.ts')).toBeUndefined();
    expect(layerViolation('libs/data/world.ts', 'generated/feedloom/v1/common.ts')).toBeUndefined();
  });
});

describe('the imports of libs/ and services/', () => {
  const files = [...sourceFiles('libs'), ...sourceFiles('services')];
  const graph = importGraph(files);

  it('reads the whole tree', () => {
    expect(files.length).toBeGreaterThan(200);
    expect([...graph.values()].flat().length).toBeGreaterThan(500);
  });

  it('all sit in a layer', () => {
    const unplaced = files.filter((f) => layerOf(f) === undefined);
    const where = `services/{${SERVERS.join(',')}}/, services/offline/<folder>/ or services/ops/<folder>/`;
    expect(unplaced, `files in no layer (put them under ${where}):\n  ${unplaced.join('\n  ')}`).toEqual([]);
  });

  it('name files that exist', () => {
    const missing = [...graph].flatMap(([from, targets]) =>
      targets
        .filter((to) => !existsSync(path.join(ROOT, to)) && !existsSync(path.join(ROOT, to.replace(/\.js$/, '.ts'))))
        .map((to) => `${from} → ${to}`),
    );
    expect(missing, `imports of files that do not exist:\n  ${missing.join('\n  ')}`).toEqual([]);
  });

  it('have no cycle', () => {
    const cycles = findCycles(graph).map((chain) => chain.join(' → '));
    expect(cycles, `import cycles:\n  ${cycles.join('\n  ')}`).toEqual([]);
  });

  it('have no cycle between folders', () => {
    const folders = folderGraph(graph);
    const cycles = findCycles(folders.graph).map((chain) =>
      chain
        .slice(1)
        .map((to, i) => `${chain[i]} → ${to} (${folders.example.get(`${chain[i]} ${to}`)})`)
        .join('\n    '),
    );
    expect(cycles, `folder cycles:\n    ${cycles.join('\n  and\n    ')}`).toEqual([]);
  });

  it('follow the layer order ops → offline → servers → libs', () => {
    const wrong: string[] = [];
    for (const [from, targets] of graph) {
      for (const to of targets) {
        const why = layerViolation(from, to);
        if (why) wrong.push(`${from} → ${to}: ${why}`);
      }
    }
    expect(wrong, `imports against the layers:\n  ${wrong.join('\n  ')}`).toEqual([]);
  });
});
