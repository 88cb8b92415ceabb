// Conversations → token ids with the positions to train on. The answer mask comes from the
// rendered template (character spans of the assistant contents, mapped to tokens through their
// offsets), as transformers' return_assistant_tokens_mask does: trained are exactly the tokens of
// the assistant's content plus the end-of-turn token that closes it; nothing of the system or
// user turns, nothing of the template's headers.
import { encodeWithOffsets } from '../../models/tokenizers/offsets.ts';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import { renderConversation, renderText } from './chat.ts';
import { promptOf, type ChatMessage, type Conversation } from './types.ts';

/** Which assistant turns of a multi-turn conversation are trained on. */
export type TrainOn = 'lastAnswer' | 'allAnswers';

export interface EncodedExample {
  id: string;
  /** The conversation's tokens, up to the last trained token. */
  ids: Int32Array;
  /** 1 where the token is a training target. */
  train: Uint8Array;
}

/** Tokens that close a turn in the templates Retort knows, present in this vocabulary (and eos). */
const END_OF_TURN = [
  '<|eot_id|>',
  '<|im_end|>',
  '<end_of_turn>',
  '<|end|>',
  '<|endoftext|>',
  '<|end_of_text|>',
  '</s>',
  '<eos>',
];

export function endOfTurnIds(tokenizer: Tokenizer): Set<number> {
  const ids = new Set<number>();
  if (tokenizer.eosId !== undefined) ids.add(tokenizer.eosId);
  for (const t of END_OF_TURN) {
    const id = tokenizer.tokenToId(t);
    if (id !== undefined) ids.add(id);
  }
  return ids;
}

const where = (c: Conversation) => `${c.source.file}:${c.source.line}`;

/** Encodes a conversation that ends in an assistant turn, marking the answer tokens. */
export function encodeConversation(
  tokenizer: Tokenizer,
  c: Conversation,
  o: { trainOn: TrainOn; endOfTurn?: Set<number> },
): EncodedExample {
  const last = c.messages.at(-1);
  if (last?.role !== 'assistant')
    throw new Error(
      `${where(c)}: this example has no answer (its last turn is ${last?.role ?? 'missing'}); give it one, or let the teacher write answers (strategy teacherAnswers)`,
    );
  let r;
  try {
    r = renderConversation(tokenizer, c.messages, { addGenerationPrompt: false });
  } catch (err) {
    throw new Error(`${where(c)} (example ${c.id}): ${(err as Error).message}`, { cause: err });
  }
  const { ids, offsets } = encodeWithOffsets(tokenizer, r.text);
  const eot = o.endOfTurn ?? endOfTurnIds(tokenizer);
  const train = new Uint8Array(ids.length);
  const answers = r.turns.map((t, i) => ({ ...t, i })).filter((t) => t.role === 'assistant');
  const trained = o.trainOn === 'lastAnswer' ? answers.slice(-1) : answers;
  let lastTrained = -1;
  for (const turn of trained) {
    if (!turn.span)
      throw new Error(
        `${where(c)}: the chat template left out assistant turn ${turn.i + 1}, so it cannot be trained on`,
      );
    const [start, end] = turn.span;
    let k = 0;
    while (k < ids.length && offsets[k]![1] <= start) k++;
    for (; k < ids.length && offsets[k]![0] < end; k++) {
      // A token spanning nothing (a prefix space the tokenizer adds) belongs to no turn.
      if (offsets[k]![1] > offsets[k]![0] || offsets[k]![0] > start) train[k] = 1;
      lastTrained = k;
    }
    const closer = ids[k];
    if (closer === undefined || !eot.has(closer) || offsets[k]![0] !== end) {
      const after = JSON.stringify(r.text.slice(end, end + 24));
      throw new Error(
        `${where(c)}: the chat template does not close the assistant's answer with an end-of-turn token (it writes ${after} after it); ` +
          'a model trained on it would not learn to stop. Use a template that ends answers with eos or an end-of-turn token',
      );
    }
    train[k] = 1;
    lastTrained = k;
  }
  return { id: c.id, ids: Int32Array.from(ids.slice(0, lastTrained + 1)), train: train.slice(0, lastTrained + 1) };
}

/** Token ids of the prompt an answer is generated for (the template's generation prompt appended). */
export function encodePrompt(tokenizer: Tokenizer, messages: readonly ChatMessage[]): number[] {
  return tokenizer.encode(renderText(tokenizer, messages, { addGenerationPrompt: true }));
}

/** The prompt of a conversation (prompt-only, or everything before its last answer) as token ids. */
export const promptIds = (tokenizer: Tokenizer, c: Conversation): number[] => encodePrompt(tokenizer, promptOf(c));

export type FitResult =
  | { kind: 'kept'; example: EncodedExample }
  | { kind: 'truncated'; example: EncodedExample }
  | { kind: 'dropped' };

/**
 * Fits an example into `maxTokens` (seq + 1: a row's inputs and its shifted labels): a prompt too
 * long is cut from the left; an example whose last answer cannot fit with at least one token before
 * it is dropped.
 */
export function fitExample(e: EncodedExample, maxTokens: number): FitResult {
  const n = e.ids.length;
  if (n <= maxTokens) return { kind: 'kept', example: e };
  // The last answer: the trailing run of trained tokens (with untrained gaps inside it, none here).
  let first = n - 1;
  while (first > 0 && e.train[first - 1] === 1) first--;
  if (n - first + 1 > maxTokens) return { kind: 'dropped' };
  const cut = n - maxTokens;
  return { kind: 'truncated', example: { id: e.id, ids: e.ids.slice(cut), train: e.train.slice(cut) } };
}
