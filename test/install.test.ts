// The install promise: `npm install` fetches packages from the npm registry and nothing else.
// onnxruntime-node's postinstall would download CUDA provider libraries from a NuGet feed on
// linux/x64; the project's .npmrc turns dependency install scripts off with a key npm supports
// (`ignore-scripts`), and these checks fail if that setting stops reaching npm or if the
// installer's files appear anyway.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..');

test('npm reads ignore-scripts=true from the project .npmrc, without unknown-config warnings', () => {
  const r = spawnSync('npm', ['config', 'get', 'ignore-scripts'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'true');
  assert.doesNotMatch(r.stderr, /Unknown (project|user|global) config/);
});

test("onnxruntime-node's installer downloaded nothing: only the bundled CPU backend is present", () => {
  const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const bin = join(pkg, 'bin', 'napi-v6', `${process.platform}`, `${process.arch}`);
  assert.ok(existsSync(join(bin, 'onnxruntime_binding.node')), `the CPU binding ships in the package at ${bin}`);
  const downloaded = readdirSync(bin).filter((f) => /providers_(cuda|tensorrt|shared)/.test(f));
  assert.deepEqual(downloaded, [], `files fetched by onnxruntime-node's postinstall: ${downloaded.join(', ')}`);
});
