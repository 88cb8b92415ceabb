export { fillAnswerStore, filterAnswers, type DropReason, type FillOptions, type FilterOptions } from './fill.ts';
export {
  ANSWER_STORE_FORMAT,
  ANSWER_STORE_VERSION,
  AnswerStore,
  type AnswerIdentity,
  type StoredAnswer,
} from './store.ts';
