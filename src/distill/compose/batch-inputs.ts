// The symbolic inputs of one training batch and what they tell the model. Text windows feed ids and
// labels only. Task batches (prompts with answers) also feed an attention_mask over their right
// padding, and packed batches position_ids (restarting per example) and segment_ids, from which
// the block-diagonal attention mask is built in the graph: a packed example never attends to
// another. The same forward options reach the student and every in-graph teacher.
import * as g from '../../graph/index.ts';
import type { ForwardOptions } from '../../models/types.ts';

/** Which extra inputs a batch feeds (absent: plain text windows). */
export interface BatchLayout {
  /** attention_mask (B, T): 1 on real tokens, 0 on padding. */
  mask: boolean;
  /** position_ids and segment_ids (B, T) of packed rows. */
  packed: boolean;
}

export interface BatchInputs {
  ids: g.Tensor; // (B, T) int64
  labels: g.Tensor; // (B, T) int64, −100 where ignored
  /** (B, T) int64 attention_mask, for the loss terms' masks. */
  mask?: g.Tensor;
  forward: Pick<ForwardOptions, 'keep' | 'positionIds'>;
}

/**
 * The model's forward options from a batch's extra inputs (a Trainer's symbolic inputs by name):
 * segment_ids give block-diagonal attention and position_ids the restarting positions; an
 * attention_mask alone drops padded keys. Plain windows give none.
 */
export function batchForward(inputs: Readonly<Record<string, g.Tensor | undefined>>): BatchInputs['forward'] {
  const { attention_mask: mask, position_ids: positions, segment_ids: segments } = inputs;
  if (segments) {
    const [b, t] = segments.shape as [number, number];
    const keep = g.equal(g.reshape(segments, [b, 1, t, 1]), g.reshape(segments, [b, 1, 1, t])); // (B, 1, T, S): same example only
    return { keep, ...(positions && { positionIds: positions }) };
  }
  if (mask) {
    const [b, t] = mask.shape as [number, number];
    return { keep: g.logicalNot(g.equal(g.reshape(mask, [b, 1, 1, t]), 0)) }; // (B, 1, 1, S): padded keys dropped
  }
  return {};
}

export function batchInputs(b: number, t: number, layout?: BatchLayout): BatchInputs {
  const ids = g.input('input_ids', [b, t], 'int64');
  const labels = g.input('labels', [b, t], 'int64');
  if (!layout?.mask && !layout?.packed) return { ids, labels, forward: {} };
  const mask = g.input('attention_mask', [b, t], 'int64');
  const packed = layout.packed
    ? { position_ids: g.input('position_ids', [b, t], 'int64'), segment_ids: g.input('segment_ids', [b, t], 'int64') }
    : {};
  return { ids, labels, mask, forward: batchForward({ attention_mask: mask, ...packed }) };
}
