// Logit KD, top-k KD and their cross-entropy term over chunks of positions (the run config's
// `lossChunk`): the student's logits, and an in-graph teacher's, are computed from the LM heads'
// inputs C positions at a time inside one loop, which also computes the gradient there
// (autodiff/chunked.ts), so no (B·T, V) tensor of either model exists whole. The loss itself is the
// configured row of the loss table, called on each chunk: its masked means become this chunk's
// share of the whole mean (the chunk's mean × its kept positions / all kept positions), which sums
// to exactly the unchunked value.
import { chunkedTerms, chunkRows, type ChunkedInput } from '../../autodiff/index.ts';
import {
  add,
  cast,
  crossEntropy,
  div,
  greater,
  matmul,
  maximum,
  mul,
  reduceSum,
  reshape,
  scalar,
  type Tensor,
  where,
} from '../../graph/index.ts';
import { keepOf, maskLabels } from './mask.ts';
import type { LmHead } from '../../models/types.ts';
import type { DistillBatch, DistillLoss, LossOutput, ModelOutputs } from './types.ts';

/** Which loss kinds read only logits, labels and the mask: the ones that can run chunked. */
export const CHUNKABLE_KINDS = new Set(['logits', 'topk']);

export interface ChunkOptions {
  /** Positions per chunk; divides B·T (chunkRows picks it). */
  chunk: number;
  /** The loss's label ignore index (its config's ignoreIndex). */
  ignoreIndex: number;
  /** Compute gradients in the loop: true in a training step. */
  grads: boolean;
}

/** Whether `loss` can run chunked on this batch: the student (and an in-graph teacher) expose their heads. */
export function canChunk(loss: DistillLoss, b: DistillBatch): boolean {
  if (!CHUNKABLE_KINDS.has(loss.kind) || !b.student.head) return false;
  return loss.kind === 'topk' ? !!b.teacher.topk : !!(b.teacher.head ?? b.teacher.logits);
}

/** Logits of a chunk of the head's input rows (C, D) → (C, V). */
function headLogits(x: Tensor, head: NonNullable<ModelOutputs['head']>, weight: Tensor, bias?: Tensor): Tensor {
  const z = matmul(x, weight, { transB: head.layout === 'out_in' });
  return bias ? add(z, bias) : z;
}

/** Kept positions of labels (N) and mask (N), as the loss table's rows count them (float). */
function keptCount(
  labels: Tensor | undefined,
  mask: Tensor | undefined,
  ignoreIndex: number,
  rows: number,
  dtype: 'float32' | 'float64',
): Tensor {
  const keep = labels ? maskLabels(labels, ignoreIndex, mask).keep : mask ? keepOf(mask) : undefined;
  return keep ? reduceSum(cast(keep, dtype)) : scalar(rows, dtype);
}

export function chunkedLoss(loss: DistillLoss, b: DistillBatch, o: ChunkOptions): LossOutput {
  const sh = b.student.head!;
  const [bs, t, d] = sh.final.shape as [number, number, number];
  const rows = bs * t;
  const dtype = sh.weight.dtype as 'float32' | 'float64';
  const flat = (x: Tensor) => reshape(x, [rows, ...x.shape.slice(2)]);

  // Inputs in a fixed order; the body reads them back by these indices.
  const sliced: ChunkedInput[] = [{ tensor: reshape(sh.final, [rows, d]), grad: true }];
  const shared: ChunkedInput[] = [{ tensor: sh.weight, grad: true }];
  const at = {
    sBias: -1,
    tFinal: -1,
    tWeight: -1,
    tBias: -1,
    tLogits: -1,
    ids: -1,
    logprobs: -1,
    tail: -1,
    labels: -1,
    mask: -1,
  };
  const slice = (x: Tensor, key: keyof typeof at, grad = false) => {
    at[key] = sliced.length;
    sliced.push({ tensor: x, grad });
  };
  const share = (x: Tensor, key: keyof typeof at, grad = false) => {
    at[key] = shared.length;
    shared.push({ tensor: x, grad });
  };
  if (sh.bias) share(sh.bias, 'sBias', true);
  const th = b.teacher.head;
  if (loss.kind === 'logits' && (th || b.teacher.logits)) {
    if (th) {
      slice(reshape(th.final, [rows, th.final.shape[2]!]), 'tFinal');
      share(th.weight, 'tWeight');
      if (th.bias) share(th.bias, 'tBias');
    } else slice(flat(b.teacher.logits!), 'tLogits');
  }
  if (b.teacher.topk) {
    slice(flat(b.teacher.topk.ids), 'ids');
    slice(flat(b.teacher.topk.logprobs), 'logprobs');
    if (b.teacher.topk.tail) slice(flat(b.teacher.topk.tail), 'tail');
  }
  if (b.labels) slice(flat(b.labels), 'labels');
  if (b.mask) slice(flat(b.mask), 'mask');
  const total = maximum(keptCount(b.labels && flat(b.labels), b.mask && flat(b.mask), o.ignoreIndex, rows, dtype), 1);
  const totalAt = shared.push({ tensor: total }) - 1;

  const { value, parts } = chunkedTerms({
    sliced,
    shared,
    chunk: o.chunk,
    grads: o.grads,
    body(s, w) {
      const pick = (i: number, from: Tensor[]) => (i < 0 ? undefined : from[i]);
      const labels = pick(at.labels, s);
      const mask = pick(at.mask, s);
      const student = headLogits(s[0]!, sh, w[0]!, pick(at.sBias, w));
      const teacher: DistillBatch['teacher'] = {};
      if (at.tFinal >= 0) teacher.logits = headLogits(s[at.tFinal]!, th!, w[at.tWeight]!, pick(at.tBias, w));
      if (at.tLogits >= 0) teacher.logits = s[at.tLogits];
      if (at.ids >= 0)
        teacher.topk = {
          ids: s[at.ids]!,
          logprobs: s[at.logprobs]!,
          tail: pick(at.tail, s),
          targets: b.teacher.topk?.targets,
        };
      const out = loss.forward({ student: { logits: student }, teacher, labels, mask });
      // This chunk's share of the whole mean; a chunk with nothing kept adds 0 (its own mean is 0/0).
      const kept = keptCount(labels, mask, o.ignoreIndex, o.chunk, dtype);
      const share = div(kept, w[totalAt]!);
      const part = (x: Tensor) => mul(where(greater(kept, 0), x, 0), share);
      return {
        value: part(out.loss),
        parts: Object.fromEntries(Object.entries(out.parts).map(([k, v]) => [k, part(v)])),
      };
    },
  });
  return { loss: value, parts };
}

/** How a run chunks its losses over the vocabulary: the run config's `lossChunk`. */
export type LossChunkSetting = 'auto' | 'off' | number;

/**
 * Mean cross-entropy of a decoder's outputs on labels (…, T), chunked over positions as `setting`
 * says (chunkRows: 'auto' chunks only at large batch × vocabulary), else from the dense logits.
 */
export function lmCrossEntropy(
  out: { logits: Tensor; final: Tensor; head?: LmHead },
  labels: Tensor,
  o: { setting?: LossChunkSetting; grads: boolean; ignoreIndex?: number },
): Tensor {
  const ignoreIndex = o.ignoreIndex ?? -100;
  const rows = labels.size;
  const chunk = out.head ? chunkRows(o.setting ?? 'auto', rows, out.logits.shape.at(-1)!) : null;
  if (chunk === null || !out.head) return crossEntropy(out.logits, labels, ignoreIndex);
  const ce: DistillLoss = {
    kind: 'logits',
    params: new Map(),
    forward: (b) => ({ loss: crossEntropy(b.student.logits!, b.labels!, ignoreIndex), parts: {} }),
  };
  const head = { ...out.head, final: out.final };
  return chunkedLoss(ce, { student: { head }, teacher: {}, labels }, { chunk, ignoreIndex, grads: o.grads }).loss;
}
