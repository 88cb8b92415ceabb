// How an inference program gets a model's weights. Shared: they are graph inputs, fed from the one
// ParamStore (onnxruntime reads the arrays in place), so any number of compiled programs (one per
// batch shape, prefill and decode) hold no copy and their model bytes are the graph alone. Baked:
// each program carries its own copy as initializers, which onnxruntime pre-packs for its matmuls and
// which a run need not hand over input by input.
//
// Measured (bench/generate-memory.ts, 2 threads): a 125M-parameter Llama after compiling batch sizes
// 1, 2, 4 and 8 held 0.78 GB shared against 5.2 GB baked, decoding 1.1× slower at batch 1 and ~1.35×
// at batches 2-8; bench/generate.ts's 3.75M-parameter GPT-2 decodes 1.7× slower shared at batch 1
// (~50 inputs handed over per 1.2 ms step). So 'auto' bakes small models, where copies are cheap
// and per-run overhead shows, and shares the weights of big ones, where copies are what runs out.
import type { HostArray, HostTensor } from './host.ts';

export type WeightsMode = 'shared' | 'baked' | 'auto';

/** 'auto' shares weights above this many bytes (16M fp32 parameters) and bakes them below. */
export const SHARE_WEIGHTS_ABOVE = 64 * 2 ** 20;

/**
 * The initializers to bake into a program compiled in `mode`, or undefined when the weights are to
 * be fed (the caller then feeds every input of kind 'param' from `values`).
 */
export function bakedWeights(
  values: ReadonlyMap<string, HostTensor>,
  names: Iterable<string>,
  mode: WeightsMode = 'auto',
): Map<string, HostArray> | undefined {
  const picked = [...names].map((n) => [n, values.get(n)!.data] as const);
  const bytes = picked.reduce((s, [, d]) => s + d.byteLength, 0);
  const bake = mode === 'baked' || (mode === 'auto' && bytes <= SHARE_WEIGHTS_ABOVE);
  return bake ? new Map(picked) : undefined;
}
