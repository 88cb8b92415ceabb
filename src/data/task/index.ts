export {
  chatTemplateOf,
  DEFAULT_CHAT_TEMPLATE,
  renderConversation,
  renderText,
  type RenderedConversation,
  type RenderOptions,
} from './chat.ts';
export {
  encodeConversation,
  encodePrompt,
  endOfTurnIds,
  fitExample,
  promptIds,
  type EncodedExample,
  type FitResult,
  type TrainOn,
} from './encode.ts';
export { detectFormat, formatRows, RecordError, type FormatName, type FormatRow } from './formats.ts';
export { readLines, type JsonlLine } from './jsonl.ts';
export { readTaskFile, type ReadTaskOptions, type SkippedRecord, type TaskFile } from './read.ts';
export { batchArrays, IGNORE_INDEX, packRows, type TaskBatchArrays } from './rows.ts';
export {
  isPromptOnly,
  promptOf,
  type ChatMessage,
  type Conversation,
  type Document,
  type Role,
  type SourceLine,
} from './types.ts';
export {
  encodeRecords,
  readTaskSplits,
  taskCorpus,
  taskTexts,
  type FitCounts,
  type TaskCorpus,
  type TaskCorpusOptions,
} from './corpus.ts';
