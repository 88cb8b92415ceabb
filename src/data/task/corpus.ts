// A task dataset made ready to train on: read (any format of the table), split into training and
// held-out records, rendered through the chat template and encoded with answer masks, fitted into
// seq + 1 tokens. Documents are cut into windows that never cross a document's end. The counts of
// kept, truncated and dropped examples come back for the log and metrics.jsonl.
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import { chatTemplateOf } from './chat.ts';
import { encodeConversation, endOfTurnIds, fitExample, type EncodedExample, type TrainOn } from './encode.ts';
import type { FormatName } from './formats.ts';
import { readTaskFile, type TaskFile } from './read.ts';
import { isPromptOnly, type Conversation, type Document } from './types.ts';

export interface TaskCorpusOptions {
  file: string;
  format: FormatName | 'auto';
  trainOn: TrainOn;
  /** Tokens per row: an example keeps at most seq + 1 tokens. */
  seq: number;
  skipBad?: boolean;
  /** Held-out records: a file of their own, or this share of the file's records (its end). */
  validation: { file?: string; fraction: number };
  log?: (line: string) => void;
}

export interface FitCounts {
  /** Examples that fit whole. */
  kept: number;
  /** Examples whose prompt was cut from the left to fit. */
  truncated: number;
  /** Examples whose answer could not fit at all. */
  dropped: number;
  /** Prompts without an answer (the teacher can write them; nothing to train on yet). */
  promptOnly: number;
  /** Bad lines skipped (data.skipBad). */
  skipped: number;
}

export interface TaskCorpus {
  format: FormatName;
  train: EncodedExample[];
  validation: EncodedExample[];
  /** Training-split conversations, prompt-only ones included. */
  conversations: Conversation[];
  validationConversations: Conversation[];
  counts: { train: FitCounts; validation: FitCounts };
  /** 'tokenizer' (the tokenizer's own chat template) or 'default' (Retort's plain layout). */
  template: 'tokenizer' | 'default';
}

/** Reads the records of a task file (no tokenizer needed: texts for building one, prompts for teachers). */
export function readTaskSplits(o: TaskCorpusOptions): {
  format: FormatName;
  train: TaskFile;
  validation?: TaskFile;
  trainRecords: (Conversation | Document)[];
  validationRecords: (Conversation | Document)[];
} {
  const main = readTaskFile(o.file, { format: o.format, skipBad: o.skipBad, log: o.log });
  const records = (f: TaskFile): (Conversation | Document)[] =>
    f.documents.length > 0 ? f.documents : f.conversations;
  if (o.validation.file) {
    const held = readTaskFile(o.validation.file, { format: main.format, skipBad: o.skipBad, log: o.log });
    return {
      format: main.format,
      train: main,
      validation: held,
      trainRecords: records(main),
      validationRecords: records(held),
    };
  }
  const all = records(main);
  const cut = Math.max(1, Math.floor(all.length * (1 - o.validation.fraction)));
  return { format: main.format, train: main, trainRecords: all.slice(0, cut), validationRecords: all.slice(cut) };
}

/** Every text the corpus holds, for building a character or BPE tokenizer over it. */
export function taskTexts(records: readonly (Conversation | Document)[]): string[] {
  return records.flatMap((r) => ('text' in r ? [r.text] : r.messages.map((m) => m.content)));
}

/** A document as windows of at most seq + 1 tokens (eos appended), every token after the first trained. */
function documentWindows(tokenizer: Tokenizer, d: Document, seq: number): EncodedExample[] {
  const ids = tokenizer.encode(d.text);
  if (tokenizer.eosId !== undefined) ids.push(tokenizer.eosId);
  const out: EncodedExample[] = [];
  // Consecutive windows overlap by one token, so each token is a label exactly once.
  for (let start = 0, k = 0; start < ids.length - 1; start += seq, k++) {
    const piece = ids.slice(start, start + seq + 1);
    out.push({
      id: `${d.id}#${k}`,
      ids: Int32Array.from(piece),
      train: Uint8Array.from(piece, (_, i) => (i === 0 ? 0 : 1)),
    });
  }
  return out;
}

/** Encodes and fits records; conversations without answers are counted, not encoded. */
export function encodeRecords(
  tokenizer: Tokenizer,
  records: readonly (Conversation | Document)[],
  o: { trainOn: TrainOn; seq: number },
): { examples: EncodedExample[]; counts: Omit<FitCounts, 'skipped'> } {
  const counts = { kept: 0, truncated: 0, dropped: 0, promptOnly: 0 };
  const examples: EncodedExample[] = [];
  const endOfTurn = endOfTurnIds(tokenizer);
  for (const r of records) {
    if ('text' in r) {
      const w = documentWindows(tokenizer, r, o.seq);
      examples.push(...w);
      counts.kept += w.length;
      continue;
    }
    if (isPromptOnly(r)) {
      counts.promptOnly++;
      continue;
    }
    const fit = fitExample(encodeConversation(tokenizer, r, { trainOn: o.trainOn, endOfTurn }), o.seq + 1);
    counts[fit.kind]++;
    if (fit.kind !== 'dropped') examples.push(fit.example);
  }
  return { examples, counts };
}

const describe = (c: FitCounts) =>
  `${c.kept} kept, ${c.truncated} truncated (prompt cut from the left), ${c.dropped} dropped (answer longer than seqLen)` +
  (c.promptOnly ? `, ${c.promptOnly} prompts without answers` : '') +
  (c.skipped ? `, ${c.skipped} bad lines skipped` : '');

export function taskCorpus(tokenizer: Tokenizer, o: TaskCorpusOptions): TaskCorpus {
  const split = readTaskSplits(o);
  const template = chatTemplateOf(tokenizer).name;
  if (split.format !== 'text') {
    o.log?.(
      template === 'tokenizer'
        ? "data: rendering with the tokenizer's chat template"
        : 'data: the tokenizer has no chat template; rendering with the plain default ("role:\\n" lines, answers closed by eos)',
    );
  }
  const tr = encodeRecords(tokenizer, split.trainRecords, o);
  const va = encodeRecords(tokenizer, split.validationRecords, o);
  const counts = {
    train: { ...tr.counts, skipped: split.train.skipped.length },
    validation: { ...va.counts, skipped: split.validation?.skipped.length ?? 0 },
  };
  o.log?.(`examples: train ${describe(counts.train)}; held out ${describe(counts.validation)}`);
  const conv = (rs: readonly (Conversation | Document)[]) => rs.filter((r): r is Conversation => !('text' in r));
  return {
    format: split.format,
    train: tr.examples,
    validation: va.examples,
    conversations: conv(split.trainRecords),
    validationConversations: conv(split.validationRecords),
    counts,
    template,
  };
}
