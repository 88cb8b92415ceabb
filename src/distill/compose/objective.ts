// Builds the distillation objective as one graph: the student's forward pass, each teacher's
// outputs (traced in-graph or fed), the configured loss terms and their weights. The result is
// what a TrainStep (or the Trainer) compiles into one program.
import * as g from '../../graph/index.ts';
import type { DecoderModel } from '../../models/types.ts';
import type { HostTensor, ParamStore } from '../../runtime/index.ts';
import {
  combineLosses,
  createLoss,
  distillLossSchema,
  fromDecoder,
  layerPairs,
  lossWeightInputs,
  type DistillLoss,
  type DistillLossConfigInput,
  type LayerMapInput,
  type LossDims,
  type ModelDims,
  type ModelOutputs,
  canChunk,
  chunkedLoss,
  type LossChunkSetting,
} from '../losses/index.ts';
import { chunkRows } from '../../autodiff/index.ts';
import { TeacherError } from '../../teachers/teacher.ts';
import { batchInputs, type BatchLayout } from './batch-inputs.ts';
import { combineTeacherLogits, type MultiTeacherMode } from './multi-teacher.ts';
import { addFrozen, traceTeacher, type TeacherNeeds, type TeacherSlot, type TracedTeacher } from './teachers.ts';

export interface LossTerm {
  /** Names the term in metrics and weights (`loss.weight.{name}`). */
  name: string;
  config: DistillLossConfigInput;
  /** Which teacher this term reads; default every teacher (see multiTeacher). */
  teacher?: string;
  /** For 'topk' terms: how many of the teacher's most likely tokens are kept (default 20). */
  topK?: number;
}

export interface DistillObjectiveSpec {
  student: DecoderModel;
  teachers: readonly TeacherSlot[];
  terms: readonly LossTerm[];
  /**
   * How a term without a named teacher uses several teachers: 'weighted' / 'confidence' mix the
   * teachers' distributions into one target (logit KD); 'per-teacher' makes one term per teacher.
   * Top-k, hidden and attention terms are always per teacher.
   */
  multiTeacher?: { mode: MultiTeacherMode; weights?: number[] };
  batch: number;
  seq: number;
  /** Training-mode dropout in the student. */
  train?: boolean;
  /** The symbolic batch inputs to trace on (a Trainer passes its own); default fresh `input_ids`/`labels` (and the layout's inputs). */
  inputs?: { ids: g.Tensor; labels: g.Tensor };
  /** Task batches: an attention_mask (padding) and, packed, position_ids and segment_ids, for student, in-graph teachers and losses. */
  layout?: BatchLayout;
  /** Logit and top-k terms computed a chunk of positions at a time (losses/chunked.ts); default 'auto'. */
  lossChunk?: LossChunkSetting;
}

export interface DistillObjective {
  ids: g.Tensor; // (B, T) int64 input
  labels: g.Tensor; // (B, T) int64 input, −100 where ignored
  /** The student's outputs (logits (B, T, V), hidden states, ...): for evaluation metrics. */
  student: ModelOutputs;
  total: g.Tensor;
  /** Unweighted terms, for metrics and the LossBalancer. */
  terms: Record<string, g.Tensor>;
  /** Parameters the losses own (projections): they train with the student. */
  lossParams: Map<string, g.Tensor>;
  traced: TracedTeacher[];
  /** Student and loss parameter names are trainable; teachers' are frozen. */
  trainable: (name: string) => boolean;
  /** Puts in-graph teachers' weights into the store the training step feeds from. */
  attachTeachers(store: ParamStore): void;
  /** The fed teachers' inputs for one batch of ids. */
  teacherFeeds(ids: HostTensor): Promise<Record<string, HostTensor>>;
}

const PER_TEACHER_KINDS = new Set(['topk', 'hidden', 'attention', 'valueRelation']);

/** The teacher outputs a term reads: for layer losses, only the teacher layers its map pairs. */
function needsOf(term: LossTerm, dims: { student: ModelDims; teacher: ModelDims }): TeacherNeeds {
  const config = distillLossSchema.parse(term.config);
  const teacherLayers = (map: LayerMapInput, allowEmbeddings: boolean) =>
    layerPairs(map, dims.student.layers, dims.teacher.layers, allowEmbeddings).map(([, t]) => t);
  switch (config.kind) {
    case 'logits':
      return { logits: true };
    case 'topk':
      return { topK: term.topK ?? 20 };
    case 'hidden':
      return { hidden: teacherLayers(config.layers, true) };
    // Block numbers count from 1; attentions[i − 1] and values[i − 1] belong to block i.
    case 'attention':
      return { attentions: teacherLayers(config.layers, false).map((l) => l - 1) };
    case 'valueRelation':
      return { values: teacherLayers(config.layers, false).map((l) => l - 1) };
  }
}

function merge(a: TeacherNeeds, b: TeacherNeeds): TeacherNeeds {
  const union = (x?: number[], y?: number[]) =>
    x || y ? [...new Set([...(x ?? []), ...(y ?? [])])].sort((p, q) => p - q) : undefined;
  return {
    logits: a.logits || b.logits,
    topK: Math.max(a.topK ?? 0, b.topK ?? 0) || undefined,
    hidden: union(a.hidden, b.hidden),
    attentions: union(a.attentions, b.attentions),
    values: union(a.values, b.values),
  };
}

/** What each capability is called in a term, and what to write instead when a teacher lacks it. */
const CAPABILITY_FIX: Record<
  Exclude<keyof TeacherNeeds, 'values'>,
  { cap: 'logits' | 'topK' | 'hidden' | 'attentions'; what: string; fix: string }
> = {
  logits: {
    cap: 'logits',
    what: 'whole next-token distributions (loss kind logits)',
    fix: 'use loss {kind: topk} with topK: 20 (sparse targets), or a teacher that returns logits (a Retort folder or an ONNX file)',
  },
  topK: { cap: 'topK', what: 'top-k log-probabilities (loss kind topk)', fix: 'use loss {kind: logits}' },
  hidden: {
    cap: 'hidden',
    what: 'hidden states (loss kind hidden)',
    fix: 'use a Retort teacher, or an ONNX teacher with source.hidden naming its hidden-state values',
  },
  attentions: {
    cap: 'attentions',
    what: 'attention maps (loss kind attention)',
    fix: 'use a Retort teacher, or an ONNX teacher with source.attentions naming its attention outputs',
  },
};

/** Refuses, before anything is traced or run, a term that asks a fed teacher for what it cannot give. */
function checkCapabilities(
  teachers: readonly TeacherSlot[],
  plan: readonly { term: LossTerm; teachers: TeacherSlot[] }[],
  needs: Map<string, TeacherNeeds>,
): void {
  for (const slot of teachers) {
    if (slot.mode !== 'fed') continue;
    const need = needs.get(slot.name) ?? {};
    for (const key of Object.keys(CAPABILITY_FIX) as (keyof typeof CAPABILITY_FIX)[]) {
      const asked = Array.isArray(need[key]) ? (need[key] as number[]).length > 0 : !!need[key];
      const can = slot.teacher.capabilities[CAPABILITY_FIX[key].cap];
      if (!asked || can) continue;
      const terms = plan
        .filter((p) => p.teachers.includes(slot) && needsKey(p.term, key))
        .map((p) => `'${p.term.name}'`);
      const { what, fix, cap } = CAPABILITY_FIX[key];
      // The teacher's own reason (an ONNX file whose hidden states were not found, with the names to pass) says more.
      throw new TeacherError(
        `teacher '${slot.name}' (${slot.teacher.kind}) cannot return ${what}, which term ${terms.join(', ') || '(default)'} reads; ${slot.teacher.unavailable?.[cap] ?? fix}`,
      );
    }
  }
}

const needsKey = (term: LossTerm, key: keyof typeof CAPABILITY_FIX): boolean =>
  ({ logits: 'logits', topK: 'topk', hidden: 'hidden', attentions: 'attention' })[key] === term.config.kind;

export function buildDistillObjective(spec: DistillObjectiveSpec): DistillObjective {
  const names = new Set<string>();
  for (const t of spec.teachers) {
    if (names.has(t.name)) throw new Error(`distill: two teachers are named '${t.name}'; give each a unique name`);
    names.add(t.name);
  }
  const studentDims: ModelDims = { layers: spec.student.config.nLayers, hidden: spec.student.config.dModel };
  const teacherDims = (slot: TeacherSlot): ModelDims => ({
    layers: slot.teacher.info.nLayers ?? 0,
    hidden: slot.teacher.info.dModel ?? 0,
  });
  const slotOf = (name: string) => {
    const s = spec.teachers.find((t) => t.name === name);
    if (!s)
      throw new Error(
        `distill: a loss term names teacher '${name}', but the teachers are: ${[...names].join(', ') || '(none)'}`,
      );
    return s;
  };

  // Which terms read which teachers, and what each teacher must provide.
  const mode = spec.multiTeacher?.mode ?? 'per-teacher';
  const plan = spec.terms.flatMap((term) => {
    const targets = term.teacher ? [slotOf(term.teacher)] : [...spec.teachers];
    const split = targets.length > 1 && (mode === 'per-teacher' || PER_TEACHER_KINDS.has(term.config.kind));
    return split
      ? targets.map((t) => ({ term, teachers: [t], name: `${term.name}.${t.name}` }))
      : [{ term, teachers: targets, name: term.name }];
  });
  const needs = new Map<string, TeacherNeeds>();
  for (const p of plan) {
    for (const t of p.teachers)
      needs.set(
        t.name,
        merge(needs.get(t.name) ?? {}, needsOf(p.term, { student: studentDims, teacher: teacherDims(t) })),
      );
  }

  checkCapabilities(spec.teachers, plan, needs);

  const [b, t] = [spec.batch, spec.seq];
  const made = spec.inputs ? { ...spec.inputs, mask: undefined, forward: {} } : batchInputs(b, t, spec.layout);
  const { ids, labels, mask, forward } = made;
  const student = fromDecoder(spec.student.forward(ids, { ...forward, train: spec.train }));
  const traced = new Map<string, TracedTeacher>();
  for (const slot of spec.teachers) {
    if (!needs.has(slot.name)) continue;
    if (spec.layout?.packed && slot.mode === 'fed') {
      throw new Error(
        `teacher '${slot.name}' (${slot.teacher.kind}) scores token ids alone, so it cannot see packed rows' example boundaries; turn data.packing off, or use a Retort teacher in-graph`,
      );
    }
    traced.set(slot.name, traceTeacher(slot, ids, needs.get(slot.name)!, forward));
  }

  const terms: Record<string, g.Tensor> = {};
  const lossParams = new Map<string, g.Tensor>();
  for (const p of plan) {
    const dims: LossDims = { student: studentDims, teacher: p.teachers[0] ? teacherDims(p.teachers[0]) : studentDims };
    const loss: DistillLoss = g.withParamPrefix(`loss.${p.name}.`, () => createLoss(p.term.config, dims));
    for (const [k, v] of loss.params) lossParams.set(k, v);
    const outs = p.teachers.map((s) => traced.get(s.name)!.outputs);
    const teacher =
      outs.length <= 1
        ? (outs[0] ?? {})
        : {
            logits: combineTeacherLogits(
              outs.map((o) => o.logits!),
              mode === 'confidence' ? 'confidence' : 'weighted',
              spec.multiTeacher?.weights,
            ),
          };
    const batch = { student, teacher, labels, mask };
    const chunk = canChunk(loss, batch)
      ? chunkRows(spec.lossChunk ?? 'auto', b * t, student.logits!.shape.at(-1)!)
      : null;
    const ignoreIndex = (distillLossSchema.parse(p.term.config) as { ignoreIndex?: number }).ignoreIndex ?? -100;
    const out =
      chunk === null
        ? loss.forward(batch)
        : chunkedLoss(loss, batch, { chunk, ignoreIndex, grads: spec.train ?? false });
    terms[p.name] = out.loss;
    for (const [part, v] of Object.entries(out.parts)) terms[`${p.name}/${part}`] = v;
  }
  const weighted = Object.fromEntries(plan.map((p) => [p.name, terms[p.name]!]));
  const combined = combineLosses(weighted, lossWeightInputs(Object.keys(weighted)));

  const tracedList = [...traced.values()];
  const frozen = new Set(tracedList.flatMap((tt) => [...tt.frozen.keys()]));
  return {
    ids,
    labels,
    student,
    total: combined.total,
    terms,
    lossParams,
    traced: tracedList,
    trainable: (name) => !frozen.has(name),
    attachTeachers: (store) => addFrozen(store, tracedList),
    async teacherFeeds(idsValue) {
      const feeds: Record<string, HostTensor> = {};
      for (const tt of tracedList) if (tt.feed) Object.assign(feeds, await tt.feed(idsValue));
      return feeds;
    },
  };
}
