// Load a Hugging Face GPT-2 or Llama/Qwen2 folder, generate from it, export it to ONNX, and check
// that onnxruntime on the exported file picks the same tokens.
//   npx tsx examples/hf-generate-export.ts <model dir> [out dir] [prompt]
// The folder needs config.json and model.safetensors (or a sharded index); with tokenizer.json the
// prompt is text, without it the prompt is a comma-separated list of token ids.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { exportDecoderOnnx } from '../src/export/index.ts';
import { Generator } from '../src/generate/index.ts';
import { loadHfModel } from '../src/models/hf/index.ts';
import { loadHfTokenizer } from '../src/models/tokenizers/hf-tokenizer.ts';
import type { DecoderModel } from '../src/models/types.ts';

export async function generateAndExport(dir: string, out: string, prompt: string, maxNewTokens = 12) {
  const loaded = loadHfModel(dir);
  const model = loaded.model as DecoderModel;
  const tokenizer = existsSync(join(dir, 'tokenizer.json')) ? loadHfTokenizer(dir) : undefined;
  const ids = tokenizer ? tokenizer.encode(prompt) : prompt.split(',').map(Number);

  const generator = new Generator(model, loaded.params);
  const result = await generator.generate([ids], { maxNewTokens, eosTokenId: [], tokenizer });
  const exported = await exportDecoderOnnx(model, loaded.params, out, { tokenizer: tokenizer ?? undefined });

  // The exported file, run by plain onnxruntime with a growing cache, must pick the same tokens.
  const session = await ort.InferenceSession.create(join(out, 'onnx', 'model.onnx'));
  const layers = session.inputNames.filter((n) => n.startsWith('past_key_values.') && n.endsWith('.key')).length;
  const c = model.config as DecoderModel['config'] & { nKvHeads?: number; headDim?: number };
  const kvHeads = c.nKvHeads ?? c.nHeads,
    headDim = c.headDim ?? c.dModel / c.nHeads;
  let past: Record<string, ort.Tensor> = {};
  for (let i = 0; i < layers; i++) {
    past[`past_key_values.${i}.key`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
    past[`past_key_values.${i}.value`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  }
  const onnxTokens: number[] = [];
  let input = ids,
    total = 0;
  for (let step = 0; step < maxNewTokens; step++) {
    total += input.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(input.map(BigInt)), [1, input.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(input.map((_, i) => BigInt(total - input.length + i))), [
        1,
        input.length,
      ]),
      ...past,
    };
    const r = await session.run(
      Object.fromEntries(Object.entries(feeds).filter(([k]) => session.inputNames.includes(k))),
    );
    const logits = r.logits!.data as Float32Array;
    const v = logits.length / input.length;
    let best = 0;
    for (let j = 1; j < v; j++)
      if (logits[(input.length - 1) * v + j]! > logits[(input.length - 1) * v + best]!) best = j;
    onnxTokens.push(best);
    past = {};
    for (let i = 0; i < layers; i++) {
      past[`past_key_values.${i}.key`] = r[`present.${i}.key`]!;
      past[`past_key_values.${i}.value`] = r[`present.${i}.value`]!;
    }
    input = [best];
  }
  return { tokens: result.tokens[0]!, text: result.text?.[0], onnxTokens, files: exported.files };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, out = 'out/exported', prompt = '1,2,3'] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: npx tsx examples/hf-generate-export.ts <model dir> [out dir] [prompt]');
    process.exit(2);
  }
  const r = await generateAndExport(dir, out, prompt);
  console.log(`generated: ${r.text ?? r.tokens.join(',')}`);
  console.log(
    `onnxruntime on ${out}/onnx/model.onnx: ${r.onnxTokens.join(',')} (${r.onnxTokens.join(',') === r.tokens.join(',') ? 'same tokens' : 'DIFFERENT tokens'})`,
  );
}
