// Clean shutdown: SIGTERM to a `retort serve` process lets the request in flight finish its stream,
// refuses new connections, and exits 0; close() with a short grace period cuts what is left.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Stepper } from '../generate/index.ts';
import { loadBackend, type ServeBackend } from './backend.ts';
import { startServer } from './server.ts';
import { spawnServer } from './testing/spawn.ts';

const MODEL = join(import.meta.dirname, '../../fixtures/onnx/tiny-gpt2.onnx');
const body = (stream: boolean, maxTokens: number) =>
  JSON.stringify({ model: 'tiny-gpt2', prompt: 'The cat sat on the', max_tokens: maxTokens, temperature: 0, stream });

test('SIGTERM: the stream in flight completes, new connections are refused, exit code 0', async () => {
  const child = await spawnServer([MODEL, '--quiet']);
  try {
    const res = await fetch(`${child.url}/v1/completions`, { method: 'POST', body: body(true, 40) });
    const reader = res.body!.getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    child.proc.kill('SIGTERM');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const events = text.split('\n\n').filter(Boolean);
    assert.equal(events.at(-1), 'data: [DONE]');
    assert.equal(events.length, 41, '40 tokens then [DONE]');
    assert.equal(await child.exited, 0, child.output());
    await assert.rejects(fetch(`${child.url}/health`), /fetch failed/);
  } finally {
    child.proc.kill('SIGKILL');
  }
});

/** The backend with every decode step made 25 ms slower, so a 40-token request surely outlasts a short grace. */
function slowed(b: ServeBackend): ServeBackend {
  const sleep = () => new Promise((r) => setTimeout(r, 25));
  return Object.assign(Object.create(b) as ServeBackend, {
    stepper: (prompts: readonly (readonly number[])[], maxNew: number): Stepper => {
      const inner = b.stepper(prompts, maxNew);
      return { start: async () => (await sleep(), inner.start()), next: async (t) => (await sleep(), inner.next(t)) };
    },
  });
}

test('close() with a short grace period cuts a long request and returns promptly', async () => {
  const server = await startServer({ backend: slowed(await loadBackend(MODEL)) });
  const slow = fetch(`${server.url}/v1/completions`, { method: 'POST', body: body(false, 40) }).then(
    (r) => r.status,
    (e: Error) => e.message,
  );
  await new Promise((r) => setTimeout(r, 100));
  const t0 = performance.now();
  await server.close({ graceMs: 50 });
  assert.ok(performance.now() - t0 < 3000, 'close returned within its deadline');
  assert.match(String(await slow), /fetch failed|terminated|other side closed/);
});
