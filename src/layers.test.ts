// The layer rule of ARCHITECTURE.md, checked: each source file imports only from layers below its
// own. The table in ARCHITECTURE.md is the source of the order; a folder missing from it fails too.
// Tests are exempt: they may check a layer with the layers above it (gradients on the reference
// interpreter, a model through the CLI).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/** Each top folder of src/ → its row in ARCHITECTURE.md's layer table (0 lowest). */
export function layerRows(markdown: string): Map<string, number> {
  const table = markdown.slice(markdown.indexOf('## Layers'));
  const rows = table.split('\n').filter((l) => /^\| [a-z]/.test(l) && !l.startsWith('| layer |'));
  const rank = new Map<string, number>();
  rows.forEach((row, i) => {
    const folders = row.split('|')[2]!;
    for (const m of folders.matchAll(/`src\/([\w-]+)\/`/g)) rank.set(m[1]!, i);
  });
  return rank;
}

/** Relative imports (static, dynamic, re-exports) of a source file. */
export function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom|\bimport\(?)\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

test('layerRows and importsOf read what they should (a check that could not fail would prove nothing)', () => {
  const md =
    '## Layers\n\n| layer | folder | job |\n|---|---|---|\n| graph | `src/graph/` | x |\n| eval / serve | `src/eval/`, `src/serve/` | y |\n';
  assert.deepEqual(
    [...layerRows(md)],
    [
      ['graph', 0],
      ['eval', 1],
      ['serve', 1],
    ],
  );
  assert.deepEqual(
    importsOf(
      "import { a } from '../graph/index.ts';\nexport { b } from './b.ts';\nawait import('../cli/x.ts');\nimport 'node:fs';",
    ),
    ['../graph/index.ts', './b.ts', '../cli/x.ts'],
  );
});

test('no source file imports from its own layer row or one above (ARCHITECTURE.md)', () => {
  const rank = layerRows(readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8'));
  const folders = readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  assert.deepEqual(
    folders.filter((f) => !rank.has(f)),
    [],
    "every folder of src/ has a row in ARCHITECTURE.md's layer table",
  );
  const wrong: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const own = relative(SRC, file).split('/')[0]!;
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = relative(SRC, resolve(dirname(file), spec)).split('/')[0]!;
      if (target === own || !rank.has(target)) continue;
      if (rank.get(target)! >= rank.get(own)!)
        wrong.push(`${relative(ROOT, file)} imports ${spec} (${own} may not import ${target})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no import cycles outside src/graph (a command and its run, a layer and its helpers)', () => {
  const files = sourceFiles(SRC);
  const edges = new Map(
    files.map((f) => [
      f,
      importsOf(readFileSync(f, 'utf8'))
        .map((spec) => resolve(dirname(f), spec))
        .filter((p) => files.includes(p)),
    ]),
  );
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (u: string): void => {
    state.set(u, 'open');
    stack.push(u);
    for (const v of edges.get(u) ?? []) {
      if (state.get(v) === 'open')
        cycles.push([...stack.slice(stack.indexOf(v)), v].map((x) => relative(SRC, x)).join(' → '));
      else if (!state.has(v)) visit(v);
    }
    stack.pop();
    state.set(u, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  // Ops' gradient rules are built from other ops, so the op modules refer to each other by design.
  assert.deepEqual(
    cycles.filter((c) => !c.split(' → ').every((m) => m.startsWith('graph/'))),
    [],
  );
});
