// Chat messages → prompt text through the model's Jinja chat template (tokenizer_config.json's
// chat_template or chat_template.jinja), rendered by @huggingface/jinja (the renderer
// transformers.js uses). Models without a template get the plain layout task training uses
// (src/data/task/chat.ts), so a served student is prompted exactly as it was trained.
import { DEFAULT_CHAT_TEMPLATE, renderText } from '../data/task/chat.ts';
import type { ChatMessage as TaskMessage } from '../data/task/types.ts';
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import { ApiError } from './errors.ts';
import type { ChatMessage } from './schemas.ts';

export { DEFAULT_CHAT_TEMPLATE };

/** Plain-text content: content-part arrays joined, null as ''. */
function plain(m: ChatMessage): TaskMessage {
  const content =
    m.content === null ? '' : typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
  return { role: m.role as TaskMessage['role'], content };
}

/** The prompt for the assistant's next turn; a template that refuses the conversation is a 400. */
export function renderChat(
  messages: readonly ChatMessage[],
  tokenizer: Tokenizer | undefined,
  extra: Record<string, unknown> = {},
): string {
  try {
    return renderText(tokenizer ?? NO_TOKENIZER, messages.map(plain), { addGenerationPrompt: true, extra });
  } catch (err) {
    // Templates call raise_exception for conversations they refuse (roles out of order, ...).
    const why = ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message;
    throw new ApiError(400, `the chat template rejected these messages: ${why}`, 'invalid_request_error', 'messages');
  }
}

/** A server without a tokenizer renders the default layout with empty special tokens. */
const NO_TOKENIZER: Tokenizer = {
  vocabSize: 0,
  encode: () => [],
  decode: () => '',
  tokenToId: () => undefined,
  idToToken: () => undefined,
  save: () => undefined,
};
