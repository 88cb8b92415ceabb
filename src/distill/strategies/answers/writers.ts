// How each kind of teacher writes answers to chat prompts: a Retort model through src/generate (KV
// cache, batched), an HTTP teacher through its chat endpoint (the server applies its own
// template), and any other teacher that scores ids (an ONNX file) by re-scoring the growing
// sequence each step. Each answer's sampling seed derives from its prompt's id and its index, so
// a resumed or re-batched run writes exactly the same answers.
import { createHash } from 'node:crypto';
import { promptIds, type ChatMessage, type Conversation, endOfTurnIds } from '../../../data/task/index.ts';
import { Generator, makeSampler } from '../../../generate/index.ts';
import type { Tokenizer } from '../../../models/tokenizers/tokenizer.ts';
import { hostTensor, mulberry32, toNumbers, type Executor } from '../../../runtime/index.ts';
import type { TeacherEntry } from '../context.ts';

export interface WrittenAnswer {
  text: string;
  /** Answer token ids, the closing end-of-turn token excluded. */
  ids: number[];
  finish: 'stop' | 'length';
}

export interface AnswerSettings {
  n: number;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
}

/** Writes `settings.n` answers to each prompt conversation (its messages up to the answer). */
export type AnswerWriter = (
  prompts: readonly { id: string; messages: ChatMessage[] }[],
  s: AnswerSettings,
) => Promise<WrittenAnswer[][]>;

/** Seed of answer k to prompt `id`: independent of batching and order. */
export function answerSeed(seed: number, id: string, k: number): number {
  const h = createHash('sha256').update(`${seed}:${id}:${k}`).digest();
  return h.readUInt32LE(0);
}

function cut(ids: number[], stop: Set<number>, max: number): { ids: number[]; finish: 'stop' | 'length' } {
  const at = ids.findIndex((t) => stop.has(t));
  if (at >= 0) return { ids: ids.slice(0, at), finish: 'stop' };
  return { ids: ids.slice(0, max), finish: 'length' };
}

function localWriter(entry: TeacherEntry, tok: Tokenizer, executor: Executor): AnswerWriter {
  const local = entry.teacher.local!;
  const gen = new Generator(local.model, local.params, { executor });
  const stop = endOfTurnIds(tok);
  const eos = local.model.config.eosTokenId;
  for (const e of eos === undefined ? [] : Array.isArray(eos) ? eos : [eos]) stop.add(e);
  return async (prompts, s) => {
    const rows = prompts.flatMap((p) => Array.from({ length: s.n }, (_, k) => ({ p, k })));
    const ids = rows.map(({ p }) =>
      promptIds(tok, { id: p.id, messages: p.messages, source: { file: '', line: 0 } } as Conversation),
    );
    // The model's context bounds the answer: a prompt near maxPositions leaves fewer new tokens (such answers end 'length').
    const room = (local.model.config.maxPositions ?? Infinity) - Math.max(...ids.map((p) => p.length));
    if (room < 1)
      throw new Error(
        `teacherAnswers: a prompt of ${Math.max(...ids.map((p) => p.length))} tokens leaves no room in teacher '${entry.name}''s ${local.model.config.maxPositions} positions; shorten the prompts`,
      );
    const r = await gen.generate(ids, {
      maxNewTokens: Math.min(s.maxNewTokens, room),
      temperature: s.temperature,
      topP: s.topP,
      topK: s.topK,
      seed: rows.map(({ p, k }) => answerSeed(s.seed, p.id, k)),
      eosTokenId: [...stop],
      padTokenId: tok.padId ?? tok.eosId ?? 0,
    });
    const out: WrittenAnswer[][] = prompts.map(() => []);
    rows.forEach(({ k }, i) => {
      const c = cut(r.tokens[i]!, stop, s.maxNewTokens);
      out[Math.floor(i / s.n)]![k] = { text: tok.decode(c.ids), ids: c.ids, finish: c.finish };
    });
    return out;
  };
}

interface ChatCapable {
  chat(
    messages: readonly { role: string; content: string }[],
    o: { maxTokens?: number; temperature?: number; topP?: number; seed?: number },
  ): Promise<{ text: string; finishReason?: string }>;
}

function httpWriter(entry: TeacherEntry, tok: Tokenizer): AnswerWriter {
  const t = entry.teacher as unknown as ChatCapable;
  return async (prompts, s) =>
    Promise.all(
      prompts.map(async (p) => {
        const answers: WrittenAnswer[] = [];
        for (let k = 0; k < s.n; k++) {
          const g = await t.chat(p.messages, {
            maxTokens: s.maxNewTokens,
            temperature: s.temperature,
            topP: s.topP,
            seed: answerSeed(s.seed, p.id, k),
          });
          answers.push({
            text: g.text,
            ids: tok.encode(g.text),
            finish: g.finishReason === 'length' ? 'length' : 'stop',
          });
        }
        return answers;
      }),
    );
}

/** Greedy or sampled decoding by scoring the whole sequence each step (no KV cache): any teacher that returns logits. */
function scoringWriter(entry: TeacherEntry, tok: Tokenizer): AnswerWriter {
  const stop = endOfTurnIds(tok);
  return async (prompts, s) => {
    const out: WrittenAnswer[][] = [];
    for (const p of prompts) {
      const answers: WrittenAnswer[] = [];
      const prompt = promptIds(tok, { id: p.id, messages: p.messages, source: { file: '', line: 0 } } as Conversation);
      for (let k = 0; k < s.n; k++) {
        const sample = makeSampler(
          { temperature: s.temperature, topP: s.topP, topK: s.topK },
          mulberry32(answerSeed(s.seed, p.id, k)),
        );
        const seq = [...prompt];
        const ids: number[] = [];
        let finish: WrittenAnswer['finish'] = 'length';
        while (ids.length < s.maxNewTokens) {
          const r = await entry.teacher.score({
            ids: hostTensor('int64', [1, seq.length], BigInt64Array.from(seq, BigInt)),
            logits: true,
          });
          const v = entry.teacher.info.vocabSize;
          const logits = Float32Array.from(toNumbers(r.logits!).slice((seq.length - 1) * v, seq.length * v));
          const next = sample(logits, seq);
          if (stop.has(next)) {
            finish = 'stop';
            break;
          }
          ids.push(next);
          seq.push(next);
        }
        answers.push({ text: tok.decode(ids), ids, finish });
      }
      out.push(answers);
    }
    return out;
  };
}

/** The writer for a teacher: its own generate hook, a Retort model, an HTTP chat API, or scoring. */
export function answerWriter(entry: TeacherEntry, tok: Tokenizer, executor: Executor): AnswerWriter {
  if (entry.teacher.local) return localWriter(entry, tok, executor);
  if (entry.teacher.kind === 'http' && typeof (entry.teacher as unknown as ChatCapable).chat === 'function')
    return httpWriter(entry, tok);
  if (entry.teacher.capabilities.logits) return scoringWriter(entry, tok);
  throw new Error(
    `teacherAnswers: teacher '${entry.name}' (${entry.teacher.kind}) can neither generate nor return logits, so it cannot write answers`,
  );
}
