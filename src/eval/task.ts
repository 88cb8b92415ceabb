// Task evaluation: each model answers the held-out prompts (greedy unless told otherwise, through
// the chat template the data was trained with), and the answers are scored against the references
// (exact match, token F1, chrF, token error rate), against the teacher's own answers, and by the
// teacher's mean log-probability per answer token. Latency is the generation time per answer.
import { encodeConversation, endOfTurnIds, promptIds, promptOf, type Conversation } from '../data/task/index.ts';
import { Generator } from '../generate/index.ts';
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import type { DecoderModel } from '../models/types.ts';
import { hostTensor, toNumbers, type Executor } from '../runtime/index.ts';
import { InferenceProgram, paramValues, type ParamSource } from './programs.ts';
import type { GenerationSettings, TaskEval, TaskExample } from './schema.ts';
import { agreementScores, taskScores } from '../data/task/metrics.ts';
import { logSoftmaxRow } from '../runtime/host-math.ts';

export interface TaskModel {
  name: string;
  model: DecoderModel;
  params: ParamSource;
}

export interface TaskEvalOptions {
  models: readonly TaskModel[];
  /** The model the agreement columns compare with (absent: none). */
  teacher?: string;
  tokenizer: Tokenizer;
  /** Held-out conversations; those with a reference are scored against it. */
  conversations: readonly Conversation[];
  generation: GenerationSettings;
  /** Prompts per generation call. Default 16. */
  batch?: number;
  /** How many prompts the side-by-side table shows. Default 20. */
  examples?: number;
  executor?: Executor;
  log?: (line: string) => void;
}

export interface TaskEvalResult {
  scores: Map<string, TaskEval>;
  examples: TaskExample[];
  answers: Map<string, string[]>;
}

async function answerAll(m: TaskModel, o: TaskEvalOptions): Promise<{ answers: string[]; msPerAnswer: number }> {
  const tok = o.tokenizer;
  const stop = endOfTurnIds(tok);
  const eos = m.model.config.eosTokenId;
  for (const e of eos === undefined ? [] : Array.isArray(eos) ? eos : [eos]) stop.add(e);
  const gen = new Generator(m.model, paramValues(m.params), o.executor ? { executor: o.executor } : {});
  const batch = o.batch ?? 16;
  const answers: string[] = [];
  const started = performance.now();
  for (let i = 0; i < o.conversations.length; i += batch) {
    const rows = o.conversations.slice(i, i + batch);
    const prompts = rows.map((c) => promptIds(tok, c));
    const g = o.generation;
    // Answers end where the model's context does: a long prompt leaves fewer new tokens.
    const room = (m.model.config.maxPositions ?? Infinity) - Math.max(...prompts.map((p) => p.length));
    if (room < 1)
      throw new Error(
        `eval: a prompt of ${Math.max(...prompts.map((p) => p.length))} tokens fills model '${m.name}''s ${m.model.config.maxPositions} positions; shorten the prompts`,
      );
    const r = await gen.generate(prompts, {
      maxNewTokens: Math.min(g.maxNewTokens, room),
      temperature: g.temperature,
      topP: g.topP,
      topK: g.topK,
      seed: g.seed + i,
      eosTokenId: [...stop],
      padTokenId: tok.padId ?? tok.eosId ?? 0,
    });
    for (const ids of r.tokens) {
      const end = ids.findIndex((t) => stop.has(t));
      answers.push(tok.decode(end >= 0 ? ids.slice(0, end) : ids).trim());
    }
    o.log?.(
      `eval: ${m.name} answered ${Math.min(i + batch, o.conversations.length)}/${o.conversations.length} prompts`,
    );
  }
  return { answers, msPerAnswer: (performance.now() - started) / Math.max(1, answers.length) };
}

/** Log-probabilities of each next token of a row, from one forward pass (rows padded to a multiple of 16, so few shapes compile). */
class RowScorer {
  private readonly programs = new Map<number, Promise<InferenceProgram>>();
  constructor(
    private readonly m: TaskModel,
    private readonly executor?: Executor,
  ) {}

  async logprobs(ids: Int32Array): Promise<Float64Array> {
    const max = (this.m.model.config as { maxPositions?: number }).maxPositions ?? Infinity;
    const t = Math.min(Math.ceil(ids.length / 16) * 16, max);
    let p = this.programs.get(t);
    if (!p)
      this.programs.set(
        t,
        (p = InferenceProgram.create({ name: this.m.name, model: this.m.model, params: this.m.params }, 1, t, {
          executor: this.executor,
        })),
      );
    const padded = new BigInt64Array(t);
    ids.slice(0, t).forEach((v, i) => (padded[i] = BigInt(v)));
    const logits = toNumbers(await (await p).logits({ input_ids: hostTensor('int64', [1, t], padded) }));
    const v = this.m.model.config.vocabSize;
    const row = new Float64Array(v);
    const out = new Float64Array(Math.min(ids.length, t) - 1);
    for (let k = 0; k < out.length; k++) {
      logSoftmaxRow(logits, k * v, v, row);
      out[k] = row[ids[k + 1]!]!;
    }
    return out;
  }
}

/** The teacher's mean log-probability per token of each answer (answer tokens and the closing end-of-turn). */
async function teacherLogprob(
  teacher: TaskModel,
  conversations: readonly Conversation[],
  answers: readonly string[],
  tok: Tokenizer,
  executor?: Executor,
): Promise<number | null> {
  const scorer = new RowScorer(teacher, executor);
  let total = 0,
    count = 0;
  for (const [i, c] of conversations.entries()) {
    // An empty answer still has its end-of-turn token to score.
    const e = encodeConversation(
      tok,
      { ...c, messages: [...promptOf(c), { role: 'assistant', content: answers[i]! }] },
      { trainOn: 'lastAnswer' },
    );
    const lp = await scorer.logprobs(e.ids);
    e.train.forEach((t, k) => {
      if (t && k > 0 && k - 1 < lp.length) {
        total += lp[k - 1]!;
        count++;
      }
    });
  }
  return count > 0 ? total / count : null;
}

export async function evaluateTask(o: TaskEvalOptions): Promise<TaskEvalResult> {
  const refs = o.conversations.map((c) => c.reference ?? null);
  const answers = new Map<string, string[]>();
  const latency = new Map<string, number>();
  for (const m of o.models) {
    const r = await answerAll(m, o);
    answers.set(m.name, r.answers);
    latency.set(m.name, r.msPerAnswer);
  }
  const teacher = o.teacher ? o.models.find((m) => m.name === o.teacher) : undefined;
  const scores = new Map<string, TaskEval>();
  const scored = refs.map((r, i) => (r === null ? -1 : i)).filter((i) => i >= 0);
  for (const m of o.models) {
    const mine = answers.get(m.name)!;
    const t =
      scored.length > 0
        ? taskScores(
            scored.map((i) => mine[i]!),
            scored.map((i) => refs[i]!),
          )
        : undefined;
    const agree =
      teacher && teacher !== m
        ? agreementScores(mine, answers.get(teacher.name)!)
        : teacher
          ? { teacherExact: 1, teacherChrF: 100 }
          : undefined;
    scores.set(m.name, {
      items: mine.length,
      exactMatch: t?.exactMatch ?? null,
      tokenF1: t?.tokenF1 ?? null,
      chrF: t?.chrF ?? null,
      tokenErrorRate: t?.tokenErrorRate ?? null,
      teacherExact: agree?.teacherExact ?? null,
      teacherChrF: agree?.teacherChrF ?? null,
      teacherLogprob: teacher ? await teacherLogprob(teacher, o.conversations, mine, o.tokenizer, o.executor) : null,
      latencyMsPerAnswer: latency.get(m.name)!,
    });
  }
  const examples: TaskExample[] = o.conversations.slice(0, o.examples ?? 20).map((c, i) => ({
    prompt: promptOf(c)
      .map((m) => m.content)
      .join('\n'),
    reference: refs[i] ?? null,
    answers: Object.fromEntries(o.models.map((m) => [m.name, answers.get(m.name)![i]!])),
  }));
  return { scores, examples, answers };
}
