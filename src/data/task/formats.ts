// The dataset formats of task data, one row each (TRL's dataset formats): how a JSONL record is
// recognized from its fields and read into a Conversation or a Document. Every later stage
// (templates, masks, batches, the teacher's answers) sees only those two shapes.
import type { ChatMessage, Conversation, Document, Role, SourceLine } from './types.ts';

export type FormatName = 'text' | 'promptCompletion' | 'messages';

/** A record that breaks its format: the field and the fix go into the error the reader raises. */
export class RecordError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`field '${field}': ${problem}; fix: ${fix}`);
  }
}

export interface FormatRow {
  /** The record shape, as the docs show it. */
  readonly shape: string;
  /** Whether a parsed record belongs to this format (by its fields). */
  detect(record: Record<string, unknown>): boolean;
  read(record: Record<string, unknown>, at: SourceLine, id: string): Conversation | Document;
}

const ROLES: Record<string, Role> = { system: 'system', user: 'user', assistant: 'assistant' };
/** ShareGPT's speaker names. */
const SHAREGPT_ROLES: Record<string, Role> = {
  system: 'system',
  human: 'user',
  gpt: 'assistant',
  user: 'user',
  assistant: 'assistant',
};

function text(record: Record<string, unknown>, field: string, fix: string, path = field): string {
  const v = record[field];
  if (typeof v !== 'string')
    throw new RecordError(
      path,
      v === undefined ? 'missing' : `expected a string, got ${JSON.stringify(v)?.slice(0, 40)}`,
      fix,
    );
  // NFC: the form tokenizers' normalizers produce, so character spans stay exact.
  return v.normalize('NFC');
}

function conversation(messages: ChatMessage[], at: SourceLine, id: string, field: string): Conversation {
  if (!messages.some((m) => m.role === 'user'))
    throw new RecordError(field, 'no user turn', 'add a {"role": "user", "content": ...} message with the prompt');
  messages.forEach((m, i) => {
    if (m.role === 'assistant' && m.content.trim() === '')
      throw new RecordError(
        `${field}[${i}].content`,
        'empty answer',
        'give the assistant turn its answer, or end the conversation with the user turn so the teacher writes one',
      );
    if (m.role === 'user' && m.content.trim() === '')
      throw new RecordError(`${field}[${i}].content`, 'empty prompt', 'write the user turn, or remove the line');
  });
  const last = messages.at(-1)!;
  return { id, messages, ...(last.role === 'assistant' && { reference: last.content }), source: at };
}

function turns(
  record: Record<string, unknown>,
  field: string,
  roleKey: string,
  contentKey: string,
  roles: Record<string, Role>,
): ChatMessage[] {
  const list = record[field];
  if (!Array.isArray(list) || list.length === 0)
    throw new RecordError(
      field,
      'expected a non-empty list of turns',
      `write ${field}: [{"${roleKey}": ..., "${contentKey}": ...}, ...]`,
    );
  return list.map((m, i) => {
    if (typeof m !== 'object' || m === null)
      throw new RecordError(`${field}[${i}]`, 'expected an object', `write {"${roleKey}": ..., "${contentKey}": ...}`);
    const r = (m as Record<string, unknown>)[roleKey];
    const role = typeof r === 'string' ? roles[r] : undefined;
    if (!role)
      throw new RecordError(
        `${field}[${i}].${roleKey}`,
        `unknown role ${JSON.stringify(r)}`,
        `use one of ${Object.keys(roles).join(', ')}`,
      );
    return {
      role,
      content: text(
        m as Record<string, unknown>,
        contentKey,
        `give ${field}[${i}] its ${contentKey} as a string`,
        `${field}[${i}].${contentKey}`,
      ),
    };
  });
}

export const formatRows = {
  text: {
    shape: '{"text": "..."}: one document per line',
    detect: (r) => typeof r.text === 'string' && !('prompt' in r) && !('messages' in r) && !('conversations' in r),
    read: (r, at, id) => ({ id, text: text(r, 'text', 'give the document as a string'), source: at }),
  },
  promptCompletion: {
    shape: '{"prompt": "...", "completion": "..."}; without completion the teacher writes the answer',
    detect: (r) => 'prompt' in r,
    read: (r, at, id) => {
      const messages: ChatMessage[] = [{ role: 'user', content: text(r, 'prompt', 'give the prompt as a string') }];
      if (r.completion !== undefined && r.completion !== null) {
        const completion = text(
          r,
          'completion',
          'give the answer as a string, or leave completion out so the teacher writes one',
        );
        if (completion.trim() === '')
          throw new RecordError(
            'completion',
            'empty answer',
            'write the answer, or leave completion out so the teacher writes one',
          );
        messages.push({ role: 'assistant', content: completion });
      }
      if (messages[0]!.content.trim() === '')
        throw new RecordError('prompt', 'empty prompt', 'write the prompt, or remove the line');
      return conversation(messages, at, id, 'prompt');
    },
  },
  messages: {
    shape:
      '{"messages": [{"role": "system" | "user" | "assistant", "content": "..."}]} (OpenAI), or ShareGPT\'s {"conversations": [{"from": "human" | "gpt" | "system", "value": "..."}]}',
    detect: (r) => 'messages' in r || 'conversations' in r,
    read: (r, at, id) =>
      'messages' in r
        ? conversation(turns(r, 'messages', 'role', 'content', ROLES), at, id, 'messages')
        : conversation(turns(r, 'conversations', 'from', 'value', SHAREGPT_ROLES), at, id, 'conversations'),
  },
} satisfies Record<FormatName, FormatRow>;

/** The format a record's fields say it is in, if any. */
export function detectFormat(record: Record<string, unknown>): FormatName | undefined {
  return (Object.keys(formatRows) as FormatName[]).find((f) => formatRows[f].detect(record));
}
