// Size against quality of an export folder (retort export --formats ...): each ONNX file's size, its
// perplexity on held-out SOTU text (addresses after 1990, the demo's held-out split) scored on the
// file itself in 64-token windows, its batch-1 latency and peak memory; GGUF files scored the same
// way in llama.cpp (node-llama-cpp). The rows are the ones
// retort eval reports (src/eval/exported.ts), here without a teacher or a model folder.
//   npx tsx bench/export-quality.ts EXPORT_DIR
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSotu } from '../src/data/sotu.ts';
import { evalWindows } from '../src/distill/trainer/index.ts';
import { scoreExportedFiles } from '../src/eval/exported.ts';
import { loadHfTokenizer } from '../src/models/tokenizers/hf-tokenizer.ts';

const [dir] = process.argv.slice(2);
if (!dir) throw new Error('usage: npx tsx bench/export-quality.ts EXPORT_DIR (a folder retort export wrote)');
const tok = loadHfTokenizer(dir);
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const nHeads = config.n_head ?? config.num_attention_heads;
const kv = { heads: config.num_key_value_heads ?? nHeads, headDim: (config.n_embd ?? config.hidden_size) / nHeads };
const text = loadSotu()
  .filter((s) => s.year > 1990)
  .map((s) => s.text)
  .join('\n\n');
const T = 64;
const ids = Int32Array.from(tok.encode(text).slice(0, T * 200 + 1));
const batches = [...evalWindows(ids, { batch: 8, ctx: T, maxBatches: 25 }).batches()];
const rows = await scoreExportedFiles(dir, {
  batches,
  kv,
  runs: 10,
  threads: 2,
  seq: T,
  vocab: config.vocab_size,
  log: (l) => console.error(l),
});
for (const r of rows) {
  const ppl =
    r.perplexity === null
      ? ''
      : `  perplexity ${r.perplexity.toFixed(3)} (${((r.perplexityChange ?? 0) * 100).toFixed(2)}%)`;
  const ms = r.latencyMs === null ? '' : `  batch-1 ${r.latencyMs.toFixed(2)} ms`;
  const peak = r.peakBytes === null ? '' : `  peak ${(r.peakBytes / 1e6).toFixed(1)} MB`;
  console.log(
    `${r.file.padEnd(26)} ${(r.bytes / 1e6).toFixed(3)} MB${ppl}${ms}${peak}${r.note ? `  (${r.note})` : ''}`,
  );
}
