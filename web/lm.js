// Greedy generation and classification over an exported Retort model with any onnxruntime
// (onnxruntime-web in the page, onnxruntime-node in the tests): no DOM here, so the browser and
// Node run exactly this code. The decoder file has transformers.js's names (src/export/decoder.ts):
//   input_ids, attention_mask, position_ids, past_key_values.{i}.key/value → logits, present.{i}.key/value

/** Layers, cache heads and head size, and the position limit, from config.json (GPT-2 or Llama names). */
export function decoderShape(config) {
  const layers = config.n_layer ?? config.num_hidden_layers;
  const heads = config.n_head ?? config.num_attention_heads;
  const kvHeads = config.num_key_value_heads ?? heads;
  const width = config.n_embd ?? config.hidden_size;
  const headDim = config.head_dim ?? width / heads;
  const maxPositions = config.n_positions ?? config.max_position_embeddings ?? Infinity;
  if (!Number.isInteger(layers) || !Number.isInteger(kvHeads) || !Number.isInteger(headDim)) {
    throw new Error(
      `config.json: cannot read the layer count, heads and head size (n_layer, n_head, n_embd or num_hidden_layers, num_attention_heads, hidden_size)`,
    );
  }
  return { layers, kvHeads, headDim, maxPositions };
}

export const isClassifier = (config) =>
  (config.architectures ?? []).some((a) => a.endsWith('ForSequenceClassification'));

function int64(ort, values, dims) {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(values, (v) => BigInt(v)),
    dims,
  );
}

/** Index of the first largest value in row `row` of a (rows, n) array. */
export function argmaxRow(data, row, n) {
  let best = 0;
  let bestV = data[row * n];
  for (let i = 1; i < n; i++) {
    const v = data[row * n + i];
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/**
 * Greedy decoding with the key/value cache: the prompt in one run, then one token per run.
 * Stops after maxNewTokens, at an eos id, or when the model's positions run out.
 * onToken(id) is called as each token is chosen (the page streams text with it).
 */
export async function greedyGenerate(ort, session, config, promptIds, o = {}) {
  if (!promptIds.length) throw new Error('greedyGenerate: the prompt has no tokens');
  const { layers, kvHeads, headDim, maxPositions } = decoderShape(config);
  // The last new token is never fed back, so prompt + n − 1 positions are used.
  const n = Math.min(o.maxNewTokens ?? 32, maxPositions - promptIds.length + 1);
  const eos = new Set([].concat(o.eosTokenId ?? []));
  const names = new Set(session.inputNames);
  let past = {};
  for (let i = 0; i < layers; i++) {
    for (const kind of ['key', 'value'])
      past[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  }
  const out = [];
  let input = [...promptIds];
  let pos = 0;
  while (out.length < n) {
    const t = input.length;
    const feeds = { input_ids: int64(ort, input, [1, t]), ...past };
    if (names.has('attention_mask')) feeds.attention_mask = int64(ort, new Array(pos + t).fill(1), [1, pos + t]);
    if (names.has('position_ids'))
      feeds.position_ids = int64(
        ort,
        Array.from({ length: t }, (_, k) => pos + k),
        [1, t],
      );
    const r = await session.run(feeds);
    const [, rows, vocab] = r.logits.dims;
    const next = argmaxRow(r.logits.data, rows - 1, vocab);
    out.push(next);
    o.onToken?.(next);
    if (eos.has(next)) break;
    past = {};
    for (let i = 0; i < layers; i++) {
      past[`past_key_values.${i}.key`] = r[`present.${i}.key`];
      past[`past_key_values.${i}.value`] = r[`present.${i}.value`];
    }
    pos += t;
    input = [next];
  }
  return out;
}

/** Classifies one text's ids (cut or right-padded to config.retort_seq_len): logits, probabilities, the best label. */
export async function classify(ort, session, config, ids, padId = 0) {
  const seq = config.retort_seq_len ?? ids.length;
  const kept = ids.slice(0, seq);
  const padded = [...kept, ...new Array(seq - kept.length).fill(padId)];
  const mask = [...kept.map(() => 1), ...new Array(seq - kept.length).fill(0)];
  const r = await session.run({ input_ids: int64(ort, padded, [1, seq]), attention_mask: int64(ort, mask, [1, seq]) });
  const logits = Array.from(r.logits.data);
  const m = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - m));
  const sum = exps.reduce((a, b) => a + b, 0);
  const probs = exps.map((e) => e / sum);
  const best = argmaxRow(logits, 0, logits.length);
  const names = config.id2label ?? {};
  return { logits, probs, label: best, name: names[best] ?? names[String(best)] ?? `LABEL_${best}` };
}
