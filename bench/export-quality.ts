// Size against quality of an export folder (retort export --formats ...): each ONNX file's size and
// its perplexity on held-out SOTU text (addresses after 1990, the demo's held-out split), scored
// by plain onnxruntime-node on the file itself in 64-token windows; GGUF files' sizes.
//   npx tsx bench/export-quality.ts EXPORT_DIR
import * as ort from 'onnxruntime-node';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadSotu } from '../src/data/sotu.ts';
import { loadHfTokenizer } from '../src/models/tokenizers/hf-tokenizer.ts';
const [dir] = process.argv.slice(2);
if (!dir) throw new Error('usage: npx tsx bench/export-quality.ts EXPORT_DIR (a folder retort export wrote)');
const tok = loadHfTokenizer(dir!);
const text = loadSotu()
  .filter((s) => s.year > 1990)
  .map((s) => s.text)
  .join('\n\n');
const ids = tok.encode(text).slice(0, 64 * 200);
const T = 64,
  B = 8;
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const heads = config.num_key_value_heads ?? config.n_head ?? config.num_attention_heads;
const headDim = (config.n_embd ?? config.hidden_size) / (config.n_head ?? config.num_attention_heads);
for (const file of ['model.onnx', 'model_quantized.onnx', 'model_fp16.onnx', 'model_q4.onnx', 'model_q4f16.onnx']) {
  const path = join(dir!, 'onnx', file);
  if (!existsSync(path)) continue;
  const s = await ort.InferenceSession.create(path, { intraOpNumThreads: 2 });
  let nll = 0,
    n = 0;
  for (let w = 0; w + B * T <= ids.length; w += B * T) {
    const x = BigInt64Array.from(ids.slice(w, w + B * T), BigInt);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', x, [B, T]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(B * T).fill(1n), [B, T]),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T)),
        [B, T],
      ),
    };
    for (const name of s.inputNames)
      if (name.startsWith('past')) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [B, heads, 0, headDim]);
    const logits = (await s.run(feeds)).logits!.data as Float32Array;
    const V = logits.length / (B * T);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T - 1; t++) {
        const row = logits.subarray((b * T + t) * V, (b * T + t + 1) * V);
        let m = -Infinity;
        for (const v of row) m = Math.max(m, v);
        let z = 0;
        for (const v of row) z += Math.exp(v - m);
        nll -= row[ids[w + b * T + t + 1]!]! - m - Math.log(z);
        n++;
      }
  }
  console.log(
    `${file.padEnd(22)} ${(statSync(path).size / 1e6).toFixed(3)} MB  perplexity ${Math.exp(nll / n).toFixed(3)} over ${n} tokens`,
  );
}
for (const f of existsSync(join(dir!, 'gguf')) ? readdirSync(join(dir!, 'gguf')) : [])
  console.log(`gguf/${f.padEnd(17)} ${(statSync(join(dir!, 'gguf', f)).size / 1e6).toFixed(3)} MB`);
