#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with Node's own test runner (through tsx),
// after a type check and the formatter and linter (Biome, biome.json), so `npm test` is the one
// command that says whether the tree is sound.
// The browser tests (report, web demo) drive Debian's Chromium, and the GGUF checks llama.cpp
// (node-llama-cpp): when they are missing, this installs them first (scripts/install-chromium.sh,
// scripts/install-clients.sh), so `npm install && npm test` passes on a fresh machine.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir, out = []) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = [...findTests('src'), ...findTests('test'), ...findTests('examples')]
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files matched ${filter.join(' ') || '(all)'}`);
  process.exit(1);
}

const chromium = process.env.RETORT_CHROMIUM ?? '/usr/bin/chromium';
const needsBrowser = files.some((f) => f.includes(join('test', 'e2e')));
if (needsBrowser && !existsSync(chromium)) {
  console.log(`headless Chromium is not at ${chromium}: installing Debian's chromium (scripts/install-chromium.sh)`);
  const install = spawnSync('bash', ['scripts/install-chromium.sh'], { stdio: 'inherit' });
  if (install.status !== 0) {
    console.error(
      "could not install Chromium for the browser tests; install Debian's chromium package " +
        '(or point RETORT_CHROMIUM at a Chromium binary) and run npm test again',
    );
    process.exit(install.status ?? 1);
  }
}

// The export checks run the files in the programs users load them with: llama.cpp (node-llama-cpp)
// for GGUF, transformers.js for the ONNX dtypes; both go into .clients/ from the npm registry.
const needsClients = files.some((f) => f.includes(join('src', 'export')) || f.endsWith(join('cli', 'export.test.ts')));
const clientsThere = ['node-llama-cpp', '@huggingface/transformers'].every((p) =>
  existsSync(`.clients/node_modules/${p}/package.json`),
);
if (needsClients && !clientsThere) {
  console.log(
    'node-llama-cpp and transformers.js are not in .clients/: installing them for the export checks (scripts/install-clients.sh)',
  );
  const install = spawnSync('bash', ['scripts/install-clients.sh'], { stdio: 'inherit' });
  if (install.status !== 0) {
    console.error(
      'could not install node-llama-cpp for the GGUF checks; run bash scripts/install-clients.sh and npm test again',
    );
    process.exit(install.status ?? 1);
  }
}

if (filter.length === 0) {
  const tsc = spawnSync('npx', ['tsc', '--noEmit', '-p', '.'], { stdio: 'inherit' });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  const biome = spawnSync('npx', ['biome', 'check', '.'], { stdio: 'inherit' });
  if (biome.status !== 0) {
    console.error(
      'formatting or lint problems (above); `npx biome check --write .` fixes the formatting and the safe lint fixes',
    );
    process.exit(biome.status ?? 1);
  }
}

const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, RETORT_TEST: '1' },
});
process.exit(run.status ?? 1);
