// How each teacher's outputs enter the training graph:
//  - 'in-graph': a Retort teacher's forward pass is traced next to the student's with its weights
//    as frozen inputs (names prefixed `teacher.{name}.`): one onnxruntime run does teacher forward,
//    student forward and backward, and the update.
//  - 'fed': the outputs are graph inputs, filled each step from Teacher.score (ONNX, HTTP) or from
//    an offline store; the graph never sees how they were made.
import * as g from '../../graph/index.ts';
import type { DecoderModel, ForwardOptions } from '../../models/types.ts';
import type { HostTensor, ParamStore } from '../../runtime/index.ts';
import type { ScoreRequest, Teacher } from '../../teachers/index.ts';
import type { ModelOutputs, SparseTargets } from '../losses/index.ts';

export type TeacherMode = 'in-graph' | 'fed';

/** Which of a teacher's outputs the losses read. */
export interface TeacherNeeds {
  logits?: boolean;
  topK?: number;
  /** Indices into hidden (0 = embeddings). */
  hidden?: number[];
  /** Layers whose attention probabilities are needed. */
  attentions?: number[];
  /** Layers whose value vectors are needed (in-graph only). */
  values?: number[];
}

export interface TeacherSlot {
  name: string;
  teacher: Teacher;
  mode: TeacherMode;
  /** Build a fresh copy of the teacher's architecture (for in-graph mode). */
  rebuild?: () => DecoderModel;
}

export interface TracedTeacher {
  name: string;
  outputs: ModelOutputs & { topk?: SparseTargets };
  /** Graph parameters of an in-graph teacher, with where their values come from. */
  frozen: Map<string, HostTensor>;
  /** For fed teachers: fills this teacher's graph inputs for one batch of ids. */
  feed?: (ids: HostTensor) => Promise<Record<string, HostTensor>>;
}

export const teacherPrefix = (name: string): string => `teacher.${name}.`;

function traceInGraph(slot: TeacherSlot, ids: g.Tensor, needs: TeacherNeeds, forward: ForwardOptions): TracedTeacher {
  const local = slot.teacher.local;
  if (!local || !slot.rebuild) {
    throw new Error(
      `teacher '${slot.name}' (${slot.teacher.kind}) cannot run in-graph; only Retort models can. Use mode 'fed' (or an offline store)`,
    );
  }
  const prefix = teacherPrefix(slot.name);
  const model = g.withParamPrefix(prefix, () => slot.rebuild!());
  const out = model.forward(ids, forward);
  const frozen = new Map<string, HostTensor>();
  for (const name of model.params.keys()) frozen.set(name, local.params.get(name.slice(prefix.length)));
  const outputs: TracedTeacher['outputs'] = {
    logits: out.logits,
    hidden: out.hidden,
    attentions: out.attentions,
    values: out.present.map((kv) => kv.value),
    head: out.head ? { ...out.head, final: out.final } : undefined,
  };
  if (needs.topK) {
    const top = g.topK(g.logSoftmax(out.logits, -1), needs.topK);
    outputs.topk = { ids: top.indices, logprobs: top.values };
  }
  return { name: slot.name, outputs, frozen };
}

function traceFed(slot: TeacherSlot, ids: g.Tensor, needs: TeacherNeeds): TracedTeacher {
  const [b, t] = ids.shape as [number, number];
  const p = teacherPrefix(slot.name);
  const info = slot.teacher.info;
  const outputs: TracedTeacher['outputs'] = {};
  if (needs.logits) outputs.logits = g.input(`${p}logits`, [b, t, info.vocabSize]);
  // A store's targets may come with each position's tail mass, and may be draws rather than the top k.
  const sparse = slot.teacher.sparse;
  if (needs.topK)
    outputs.topk = {
      ids: g.input(`${p}topk.ids`, [b, t, needs.topK], 'int64'),
      logprobs: g.input(`${p}topk.logprobs`, [b, t, needs.topK]),
      ...(sparse?.tail ? { tail: g.input(`${p}topk.tail`, [b, t, 1]) } : {}),
      targets: sparse?.targets ?? 'topk',
    };
  if (needs.hidden?.length) {
    if (!info.dModel)
      throw new Error(`teacher '${slot.name}' does not say its hidden size; hidden-state distillation needs it`);
    const hidden: g.Tensor[] = [];
    for (const i of needs.hidden) hidden[i] = g.input(`${p}hidden.${i}`, [b, t, info.dModel]);
    outputs.hidden = hidden;
  }
  if (needs.attentions?.length) {
    if (!info.nHeads)
      throw new Error(`teacher '${slot.name}' does not say its head count; attention distillation needs it`);
    const attentions: g.Tensor[] = [];
    for (const i of needs.attentions) attentions[i] = g.input(`${p}attn.${i}`, [b, info.nHeads, t, t]);
    outputs.attentions = attentions;
  }
  if (needs.values?.length)
    throw new Error(`teacher '${slot.name}': value-relation distillation needs the teacher in-graph`);
  const request: Omit<ScoreRequest, 'ids'> = {
    logits: needs.logits,
    topK: needs.topK,
    hidden: needs.hidden,
    attentions: needs.attentions,
  };
  const feed = async (idsValue: HostTensor) => {
    const r = await slot.teacher.score({ ids: idsValue, ...request });
    const feeds: Record<string, HostTensor> = {};
    if (needs.logits) feeds[`${p}logits`] = r.logits!;
    if (needs.topK) {
      feeds[`${p}topk.ids`] = r.topk!.ids;
      feeds[`${p}topk.logprobs`] = r.topk!.logprobs;
      if (sparse?.tail) {
        if (!r.topk!.tail)
          throw new Error(
            `teacher '${slot.name}' says its top-k results carry the tail mass, but a result came without one`,
          );
        feeds[`${p}topk.tail`] = r.topk!.tail;
      }
    }
    needs.hidden?.forEach((i, k) => (feeds[`${p}hidden.${i}`] = r.hidden![k]!));
    needs.attentions?.forEach((i, k) => (feeds[`${p}attn.${i}`] = r.attentions![k]!));
    return feeds;
  };
  return { name: slot.name, outputs, frozen: new Map(), feed };
}

/** `forward`: the batch's attention mask and positions (task batches), for in-graph teachers. */
export function traceTeacher(
  slot: TeacherSlot,
  ids: g.Tensor,
  needs: TeacherNeeds,
  forward: ForwardOptions = {},
): TracedTeacher {
  return slot.mode === 'in-graph' ? traceInGraph(slot, ids, needs, forward) : traceFed(slot, ids, needs);
}

/** Adds an in-graph teacher's frozen weights to the store a TrainStep feeds from (shared, not copied). */
export function addFrozen(store: ParamStore, traced: readonly TracedTeacher[]): void {
  for (const t of traced) for (const [k, v] of t.frozen) store.set(k, v);
}
