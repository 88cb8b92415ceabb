// Scores one GGUF file in llama.cpp's own engine (node-llama-cpp), in a process of its own so the
// peak resident memory (VmHWM) is the file's and not the evaluation's.
//   node gguf-child.mjs MODEL.gguf '{"seq": 64, "runs": 10, "threads": 1}'  < rows.json
// stdin: {"rows": [{"ids": [...], "labels": [...]}, ...]}, labels[i] the token after ids[i] or -100.
// Perplexity: each row is evaluated from an empty sequence; at every labelled position llama.cpp's
// raw logit of the label, the top logit (includeTop: node-llama-cpp's includeMax does not add it)
// and Σ exp(logit − max) give log p(label) exactly, so the full distribution never crosses into
// JavaScript. llama.cpp runs with its defaults (F16 KV cache),
// as users run it. Latency: a forward over `seq` tokens at batch 1.
// node-llama-cpp is not a dependency of Retort: it is imported from where the user installed it, or
// from this checkout's .clients/ (scripts/install-clients.sh). Without it, prints {"missing": "..."}.
// Plain JavaScript on purpose: nothing but Node and node-llama-cpp is in memory.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

function status(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`/proc/self/status has no ${field} line; peak memory is measured on Linux only`);
  return Number(m[1]) * 1024;
}

async function importClient() {
  try {
    return await import('node-llama-cpp');
  } catch {
    const local = fileURLToPath(new URL('../../.clients/node_modules/node-llama-cpp/dist/index.js', import.meta.url));
    if (existsSync(local)) return await import(pathToFileURL(local).href);
    return null;
  }
}

const [file, optionsJson] = process.argv.slice(2);
if (!file) {
  console.error('usage: node gguf-child.mjs MODEL.gguf [OPTIONS_JSON] < rows.json');
  process.exit(2);
}
const o = JSON.parse(optionsJson ?? '{}');
const client = await importClient();
if (!client) {
  process.stdout.write(
    `${JSON.stringify({ missing: 'node-llama-cpp is not installed (npm install node-llama-cpp, or bash scripts/install-clients.sh in a Retort checkout)' })}\n`,
  );
  process.exit(0);
}
const input = JSON.parse(readFileSync(0, 'utf8'));
const rows = input.rows ?? [];
const seq = o.seq ?? Math.max(1, ...rows.map((r) => r.ids.length));

const llama = await client.getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath: file });
const context = await model.createContext({
  contextSize: Math.max(seq, 16),
  batchSize: Math.max(seq, 16),
  threads: o.threads ?? 1,
});
const sequence = context.getSequence();

let nll = 0;
let scored = 0;
for (const row of rows) {
  await sequence.clearHistory();
  const items = row.ids.map((id, i) => {
    const label = row.labels[i];
    if (label < 0) return id;
    return [id, { generateNext: { logits: { filter: { tokens: [label], includeTop: 1 } }, totalLogitWeight: true } }];
  });
  const out = await sequence.controlledEvaluate(items);
  for (let i = 0; i < items.length; i++) {
    const label = row.labels[i];
    if (label < 0) continue;
    const next = out[i]?.next;
    if (!next?.logits || next.totalLogitWeight === undefined)
      throw new Error(`${file}: llama.cpp returned no logits at position ${i}`);
    const max = Math.max(...next.logits.values());
    nll -= next.logits.get(label) - max - Math.log(next.totalLogitWeight);
    scored++;
  }
}
const result = {
  perplexity: scored > 0 ? Math.exp(nll / scored) : null,
  scored,
  peakBytes: status('VmHWM'),
};
const runs = o.runs ?? 0;
if (runs > 0) {
  const ids = Array.from({ length: seq }, (_, i) => rows[0]?.ids[i % rows[0].ids.length] ?? i % 7);
  const last = [ids.at(-1), { generateNext: { token: true } }];
  const once = async () => {
    await sequence.clearHistory();
    await sequence.controlledEvaluate([...ids.slice(0, -1), last]);
  };
  await once();
  const ms = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await once();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  result.latencyMs = ms[Math.floor(ms.length / 2)];
  result.peakBytes = status('VmHWM');
}
await context.dispose();
await model.dispose();
process.stdout.write(`${JSON.stringify(result)}\n`);
