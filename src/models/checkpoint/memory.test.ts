import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertFitsInMemory, availableMemory, SKIP_MEMORY_CHECK } from './memory.ts';

const MiB = 2 ** 20;

/** A folder laid out as a cgroup v2 memory controller. */
function cgroup(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'retort-cgroup-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), `${text}\n`);
  return dir;
}

test('inside a cgroup its limit less its usage wins when smaller; reclaimable page cache is not usage', () => {
  const dir = cgroup({
    'memory.max': String(1024 * MiB),
    'memory.current': String(700 * MiB),
    'memory.stat': `anon ${500 * MiB}\ninactive_file ${200 * MiB}\nactive_file ${100 * MiB}`,
  });
  const free = availableMemory({ freeBytes: 8192 * MiB, cgroupDir: dir });
  assert.equal(free.bytes, 1024 * MiB - 500 * MiB);
  assert.match(free.source, /cgroup's memory\.max 1\.0 GiB less 500 MiB in use/);
  // The machine's figure wins when it is the smaller one.
  assert.deepEqual(availableMemory({ freeBytes: 100 * MiB, cgroupDir: dir }), {
    bytes: 100 * MiB,
    source: 'free memory',
  });
});

test('a cgroup without a limit, or no cgroup files at all, leaves the machine figure', () => {
  for (const dir of [cgroup({ 'memory.max': 'max', 'memory.current': '5' }), cgroup({})])
    assert.equal(availableMemory({ freeBytes: 3 * MiB, cgroupDir: dir }).bytes, 3 * MiB);
  assert.ok(availableMemory().bytes > 0, 'the real figures are read without error');
});

test('a load that does not fit is refused with what it needs, what is free and what to do', () => {
  const o = { freeBytes: 300 * MiB, cgroupDir: cgroup({}) };
  assert.doesNotThrow(() => assertFitsInMemory(300 * MiB, 'loading x', o));
  assert.throws(
    () => assertFitsInMemory(2.5 * 2 ** 30, 'loadHfModel: /models/big holds 671,088,640 parameters', o),
    (err: Error) =>
      err.message.startsWith(
        'loadHfModel: /models/big holds 671,088,640 parameters, which take 2.5 GiB as float32, but only 300 MiB is available (free memory).',
      ) &&
      err.message.includes('Use a smaller model') &&
      err.message.includes(`${SKIP_MEMORY_CHECK}=1 loads it anyway`),
  );
  process.env[SKIP_MEMORY_CHECK] = '1';
  try {
    assert.doesNotThrow(() => assertFitsInMemory(2.5 * 2 ** 30, 'loading x', o));
  } finally {
    delete process.env[SKIP_MEMORY_CHECK];
  }
});
