// The state a distillation run carries from one strategy step to the next. Preparing steps change it
// (offline labelling swaps a live teacher for its store, augmentation swaps the training data,
// initFromTeacher sets the student's starting weights, onPolicy adds a batch transform); training
// steps read it, train, and leave the trained student in it for whatever follows.
import type { Conversation, EncodedExample, TrainOn } from '../../data/task/index.ts';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import type { DecoderModel } from '../../models/types.ts';
import type { OptimizerConfig, Schedule } from '../../optim/index.ts';
import { defaultExecutor, type Executor, type ParamStore } from '../../runtime/index.ts';
import type { TeacherSlot } from '../compose/index.ts';
import type { DistillLossConfigInput, LossChunkSetting } from '../losses/index.ts';
import type { Progress } from '../progress/index.ts';
import {
  taskBatches,
  tokenWindows,
  type BalanceOptions,
  type CheckpointOptions,
  type DataSource,
  type EvalResult,
  type MonitorOptions,
  type RunSummary,
  type TrainerEvent,
} from '../trainer/index.ts';
import type { BatchTransform } from './batches.ts';

export interface StudentSpec {
  model: DecoderModel;
  /** A fresh model of the same architecture (born-again generations, mutual-learning peers). */
  rebuild: () => DecoderModel;
  /** Current values (a trained or initialized student); absent: initialized from the seed when training starts. */
  params?: ParamStore;
}

/** Makes text from prompts (token ids): what augmentation asks a teacher for. */
export type TextGenerator = (prompts: readonly (readonly number[])[], o: TextGenerateOptions) => Promise<number[][]>;

export interface TextGenerateOptions {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  /** Row r samples with seed + r. */
  seed: number;
}

/** A teacher of the run: how it enters the training graph (compose's slot), and what else it can do. */
export interface TeacherEntry extends TeacherSlot {
  /** Generates continuations (augmentation). Retort teachers get one from src/generate when absent. */
  generate?: TextGenerator;
}

export interface LmCorpus {
  /** The training token stream (empty for task data). */
  train: Int32Array;
  /** Held-out tokens for evaluation; absent: no evaluation. */
  validation?: Int32Array;
  tokenizer?: Tokenizer;
  /** Task data (prompts with answers, or documents): batches of examples with answer-only labels instead of windows of `train`. */
  task?: TaskData;
}

/** Encoded task examples: training rows, held-out rows, and the prompts teachers can answer. */
export interface TaskData {
  train: EncodedExample[];
  validation?: EncodedExample[];
  /** Conversations of the training split, prompts with or without answers (teacherAnswers and onPolicy read them). */
  conversations: Conversation[];
  /** How examples were made into rows: what teacher-written answers must be encoded with too. */
  encode: { trainOn: TrainOn; seq: number };
  packed: boolean;
  padId: number;
  /** Kept, truncated and dropped examples per split: logged, and written to each training step's metrics.jsonl. */
  counts?: Record<string, unknown>;
}

export interface RunSettings {
  /** Run folder: each step trains in its own sub-folder `{index}-{kind}` (checkpoints, metrics.jsonl). */
  dir: string;
  /** Optimizer steps of each training step (a strategy's `steps` overrides it). */
  steps: number;
  batch: number;
  /** Tokens per row (T). */
  seq: number;
  /** Learning-rate schedule; totalSteps comes from the training step's steps. */
  schedule: Omit<Schedule, 'totalSteps'>;
  optimizer: OptimizerConfig;
  clipNorm?: number;
  /** 'auto': loss-term weights divided by the terms' running means (the trainer's `balance`). Default fixed. */
  balance?: BalanceOptions;
  accumulate?: number;
  /** Evaluate every this many steps (and at the end); 0: only at the end. */
  evalEvery?: number;
  /** Held-out batches per evaluation (at most). Default 8. */
  evalBatches?: number;
  monitor?: MonitorOptions;
  /** Default: save at the end only, keep 1. */
  checkpoint?: CheckpointOptions;
  seed: number;
  threads?: number;
  /** How losses over the vocabulary are chunked (the run config's lossChunk); default 'auto'. */
  lossChunk?: LossChunkSetting;
  executor: Executor;
  /** Default: none. */
  progress?: Progress | false;
}

/** Which KD term a training step uses when its config names none (stages adjust it: offline → top-k, onPolicy → JSD). */
export interface KdDefaults {
  loss: DistillLossConfigInput;
  topK?: number;
}

export interface StageInfo {
  /** `{index}-{kind}`: names the step's folder under the run folder. */
  name: string;
  dir: string;
  index: number;
}

export interface StageReport {
  stage: string;
  kind: string;
  /** The training folder (checkpoints, metrics.jsonl), for steps that train. */
  dir?: string;
  summary?: RunSummary;
  /** Final evaluation on the held-out data. */
  eval?: EvalResult;
  /** What the step did: generations' metrics, copied layers, store folders, counts. */
  details?: Record<string, unknown>;
}

export interface BatchEvent {
  stage: string;
  /** Ordinal of the batch in the step's stream (stable across resume). */
  index: number;
  /** Where the batch came from: the dataset, or the student's own generations (onPolicy). */
  origin: 'data' | 'student';
  batch: Readonly<Record<string, unknown>>;
}

export interface DistillHooks {
  /** Each Trainer event of each training step. */
  onTrainerEvent?: (stage: string, e: TrainerEvent) => void | Promise<void>;
  /** Each training batch once prepared (on-policy batches included). */
  onBatch?: (e: BatchEvent) => void;
  /** One line of progress from a preparing step (labelling, generation). */
  log?: (line: string) => void;
}

export interface DistillContext {
  student: StudentSpec;
  teachers: TeacherEntry[];
  data: LmCorpus;
  settings: RunSettings;
  /** Where training batches come from; stages replace it (offline: the labelled examples; augment: a mix). */
  source: (o: { batch: number; seq: number; seed: number }) => DataSource;
  /** The step that last replaced `source`, if any. */
  sourceBy?: string;
  /** Async work on each training batch before its step, in order (on-policy generation); fed teachers' outputs are added after these. */
  transforms: BatchTransform[];
  kdDefaults: KdDefaults;
  reports: StageReport[];
  hooks: DistillHooks;
  /** Steps run so far (names the next step's folder). */
  stageCount: number;
}

export interface DistillContextOptions {
  student: StudentSpec;
  teachers?: TeacherEntry[];
  data: LmCorpus;
  settings: Omit<RunSettings, 'executor'> & { executor?: Executor };
  hooks?: DistillHooks;
}

export async function createDistillContext(o: DistillContextOptions): Promise<DistillContext> {
  const names = new Set<string>();
  for (const t of o.teachers ?? []) {
    if (names.has(t.name)) throw new Error(`distill: two teachers are named '${t.name}'; give each a unique name`);
    names.add(t.name);
  }
  const s = o.settings;
  const task = o.data.task;
  if (task && task.train.length === 0 && task.conversations.length === 0)
    throw new RangeError(
      'distill: the task data has no training examples (every one was dropped as too long); raise data.seqLen or shorten the answers',
    );
  if (!task && o.data.train.length < s.seq + 1)
    throw new RangeError(
      `distill: the training text has ${o.data.train.length} tokens, fewer than one window of seq + 1 = ${s.seq + 1}; use more text or a smaller seq`,
    );
  const executor = s.executor ?? (await defaultExecutor());
  return {
    student: o.student,
    teachers: [...(o.teachers ?? [])],
    data: o.data,
    settings: { ...s, executor },
    source: ({ batch, seq, seed }) =>
      task
        ? taskBatches(task.train, { batch, seq, seed, packed: task.packed, padId: task.padId })
        : tokenWindows(o.data.train, { batch, ctx: seq, seed }),
    transforms: [],
    kdDefaults: { loss: { kind: 'logits', alpha: 0.5 } },
    reports: [],
    hooks: o.hooks ?? {},
    stageCount: 0,
  };
}

/** The teachers a step names (default: all), or an error listing the known names. */
export function pickTeachers(ctx: DistillContext, names: readonly string[] | undefined, who: string): TeacherEntry[] {
  if (!names) return ctx.teachers;
  return names.map((n) => {
    const t = ctx.teachers.find((e) => e.name === n);
    if (!t)
      throw new Error(
        `${who}: no teacher named '${n}'; the run's teachers are: ${ctx.teachers.map((e) => e.name).join(', ') || '(none)'}`,
      );
    return t;
  });
}

/** One teacher by name, or the first one that is a Retort model in this process (its weights are needed). */
export function localTeacher(
  ctx: DistillContext,
  name: string | undefined,
  who: string,
): TeacherEntry & { teacher: { local: NonNullable<TeacherEntry['teacher']['local']> } } {
  const candidates = name ? pickTeachers(ctx, [name], who) : ctx.teachers.filter((t) => t.teacher.local);
  const t = candidates[0];
  if (!t)
    throw new Error(
      `${who}: needs a Retort teacher (a model in this process, with weights); the run has ${ctx.teachers.map((e) => `'${e.name}' (${e.teacher.kind})`).join(', ') || 'no teachers'}`,
    );
  if (!t.teacher.local)
    throw new Error(
      `${who}: teacher '${t.name}' is an '${t.teacher.kind}' teacher without weights in this process; this step needs a Retort model (load it with loadHfModel and LocalTeacher)`,
    );
  return t as never;
}
