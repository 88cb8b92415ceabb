// The three inference graphs generation compiles, each traced at one concrete shape:
//   prefill (B, T)      the prompts, left-padded; returns last-position logits and every key/value;
//   decode  (B, 1)      one token against a fixed-capacity cache; returns logits and the new key/value;
//   window  (B, W)      the no-cache reference: the whole window again, logits at one slot per row.
// Padding and unfilled cache slots are hidden by a bool keep-mask over keys; positions come in as
// position_ids, so a row's positions do not depend on how much padding sits in front of it.
import { gather, input, reshape, slice, type Tensor } from '../graph/index.ts';
import type { KvPair } from '../models/types.ts';
import type { KvShape } from './runner.ts';
import type { DecoderModel } from './types.ts';

const logitsOf = (model: DecoderModel, b: number, last: Tensor): Tensor => reshape(last, [b, model.config.vocabSize]); // (B, V)

export function prefillGraph(model: DecoderModel, b: number, t: number): Record<string, Tensor> {
  const ids = input('input_ids', [b, t], 'int64');
  const positionIds = input('position_ids', [b, t], 'int64');
  const keep = input('keep', [b, 1, 1, t], 'bool'); // key slot holds a real token
  const out = model.forward(ids, { positionIds, keep });
  const outputs: Record<string, Tensor> = { logits: logitsOf(model, b, slice(out.logits, 1, t - 1, t)) };
  out.present.forEach((kv, i) => {
    outputs[`present.${i}.key`] = kv.key; // (B, H, T, hs)
    outputs[`present.${i}.value`] = kv.value;
  });
  return outputs;
}

/**
 * One decode step over a cache of `capacity` slots. The model appends the new key/value after the
 * cache (S = capacity + 1); the keep-mask hides unfilled and padding slots. Only the new key/value
 * leave the graph: the host writes them into its cache arrays, which onnxruntime reads in place,
 * so a step moves B·H·hs floats per layer instead of the whole cache.
 */
export function decodeGraph(model: DecoderModel, b: number, capacity: number, kv: KvShape): Record<string, Tensor> {
  const ids = input('input_ids', [b, 1], 'int64');
  const positionIds = input('position_ids', [b, 1], 'int64');
  const keep = input('keep', [b, 1, 1, capacity + 1], 'bool');
  const past: KvPair[] = Array.from({ length: kv.layers }, (_, i) => ({
    key: input(`past.${i}.key`, [b, kv.heads, capacity, kv.headDim]), // (B, H, cap, hs)
    value: input(`past.${i}.value`, [b, kv.heads, capacity, kv.headDim]),
  }));
  const out = model.forward(ids, { past, positionIds, keep });
  const outputs: Record<string, Tensor> = { logits: logitsOf(model, b, out.logits) };
  out.present.forEach((p, i) => {
    outputs[`new.${i}.key`] = slice(p.key, 2, capacity, capacity + 1); // (B, H, 1, hs)
    outputs[`new.${i}.value`] = slice(p.value, 2, capacity, capacity + 1);
  });
  return outputs;
}

/** The whole window of W slots; `pick` (B) selects row b's logits at flat index b·W + slot. */
export function windowGraph(model: DecoderModel, b: number, w: number): Record<string, Tensor> {
  const ids = input('input_ids', [b, w], 'int64');
  const positionIds = input('position_ids', [b, w], 'int64');
  const keep = input('keep', [b, 1, 1, w], 'bool');
  const pick = input('pick', [b], 'int64');
  const out = model.forward(ids, { positionIds, keep });
  return { logits: gather(reshape(out.logits, [b * w, model.config.vocabSize]), pick) }; // (B, V)
}
