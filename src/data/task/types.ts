// What a task dataset holds once read, whatever its file format: conversations (a prompt and
// completion is a two-turn conversation), or plain documents. Training, generation and evaluation
// see only these.

export type Role = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: Role;
  content: string;
}

/** Where a record came from, for error messages and reports. */
export interface SourceLine {
  file: string;
  /** 1-based line number in the file. */
  line: number;
}

export interface Conversation {
  /** Stable id: the record's own `id` field when it has one, else `{file name}:{line}`. Answer stores are keyed by it. */
  id: string;
  messages: ChatMessage[];
  /** The reference answer for evaluation: the last assistant turn, when the record has one. */
  reference?: string;
  source: SourceLine;
}

export interface Document {
  id: string;
  text: string;
  source: SourceLine;
}

/** A conversation ending in a user turn: the prompt the teacher (or the model being evaluated) answers. */
export const isPromptOnly = (c: Conversation): boolean => c.messages.at(-1)?.role !== 'assistant';

/** The conversation up to (not including) its last assistant turn: the prompt that answer replies to. */
export function promptOf(c: Conversation): ChatMessage[] {
  return isPromptOnly(c) ? c.messages : c.messages.slice(0, -1);
}
