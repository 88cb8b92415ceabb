// A run config's `data` section when it names task records (a .jsonl of prompts and answers,
// conversations, or documents): the tokenizer it names, and the examples encoded with answer-only
// labels, as the strategies' TaskData. Text streams (sotu, spam, a text file) stay on the window path.
import type { TaskCorpus } from '../../data/task/index.ts';
import { taskCorpus, readTaskSplits, taskTexts } from '../../data/task/index.ts';
import { CharTokenizer } from '../../models/tokenizers/char-tokenizer.ts';
import { loadHfTokenizer } from '../../models/tokenizers/hf-tokenizer.ts';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import { trainByteLevelBpe } from '../../models/tokenizers/train-byte-level-bpe.ts';
import type { TaskData } from '../strategies/context.ts';
import type { RunConfig } from './schema.ts';

type DataConfig = RunConfig['data'];

/** Whether the data section reads task records rather than a text stream. */
export const isTaskDataset = (d: DataConfig): boolean =>
  d.dataset.endsWith('.jsonl') || d.format === 'promptCompletion' || d.format === 'messages';

/** End of sequence of the tokenizers Retort builds for task data: the default chat template closes answers with it. */
export const TASK_EOS = '<|endoftext|>';

/** The words the default chat template writes around the contents (a character tokenizer must know them). */
const TEMPLATE_TEXT = 'system:\nuser:\nassistant:\n';

/** The tokenizer data.tokenizer names, built over the task's own texts when it is learned here. */
export function taskTokenizer(d: DataConfig, texts: readonly string[]): Tokenizer {
  const t = d.tokenizer;
  if (t.kind === 'hf') return loadHfTokenizer(t.path);
  if (t.kind === 'char')
    return CharTokenizer.fromCorpus([...texts, TEMPLATE_TEXT], { eosToken: TASK_EOS, padToken: '<pad>' });
  return trainByteLevelBpe([...texts, TEMPLATE_TEXT], { vocabSize: t.vocabSize, eosToken: TASK_EOS });
}

export interface TaskDataResult {
  tokenizer: Tokenizer;
  task: TaskData;
  corpus: TaskCorpus;
}

/** Reads, splits and encodes the task data; `tokenizer` given (a teacher's) is used as is. */
export function taskDataFromConfig(
  d: DataConfig,
  o: { tokenizer?: Tokenizer; log?: (line: string) => void } = {},
): TaskDataResult {
  const options = {
    file: d.dataset,
    format: d.format,
    trainOn: d.train_on,
    seq: d.seqLen,
    skipBad: d.skipBad,
    validation: d.validation,
    log: o.log,
  };
  const tokenizer =
    o.tokenizer ??
    (() => {
      const split = readTaskSplits({ ...options, log: undefined });
      return taskTokenizer(d, taskTexts([...split.trainRecords, ...split.validationRecords]));
    })();
  const corpus = taskCorpus(tokenizer, options);
  const padId = tokenizer.padId ?? tokenizer.eosId ?? 0;
  return {
    tokenizer,
    corpus,
    task: {
      train: corpus.train,
      validation: corpus.validation,
      conversations: corpus.conversations,
      encode: { trainOn: d.train_on, seq: d.seqLen },
      packed: d.packing,
      padId,
      counts: corpus.counts,
    },
  };
}
