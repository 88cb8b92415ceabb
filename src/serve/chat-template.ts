// Chat messages → prompt text through the model's Jinja chat template (tokenizer_config.json's
// chat_template or chat_template.jinja), rendered by @huggingface/jinja (the renderer
// transformers.js uses). Models without a template get the plain layout task training uses
// (src/data/task/chat.ts), so a served student is prompted exactly as it was trained.
import { Template } from '@huggingface/jinja';
import { DEFAULT_CHAT_TEMPLATE } from '../data/task/chat.ts';
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import { ApiError } from './errors.ts';
import type { ChatMessage } from './schemas.ts';

export { DEFAULT_CHAT_TEMPLATE };

const compiled = new Map<string, Template>();

function template(source: string): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (err) {
      throw new Error(`chat template does not parse (${(err as Error).message}); fix tokenizer_config.json's chat_template`, { cause: err });
    }
    compiled.set(source, t);
  }
  return t;
}

/** Plain-text content: content-part arrays joined, null as ''. */
function plain(m: ChatMessage): { role: string; content: string } {
  const content = m.content === null ? '' : typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
  return { role: m.role, content };
}

export function renderChat(messages: readonly ChatMessage[], tokenizer: Tokenizer | undefined, extra: Record<string, unknown> = {}): string {
  const source = tokenizer?.chatTemplate ?? DEFAULT_CHAT_TEMPLATE;
  const token = (id: number | undefined) => (id === undefined ? '' : tokenizer?.idToToken(id) ?? '');
  try {
    return template(source).render({
      messages: messages.map(plain),
      add_generation_prompt: true,
      bos_token: token(tokenizer?.bosId),
      eos_token: token(tokenizer?.eosId),
      // As in training (src/data/task/chat.ts): Qwen3-style templates write the empty thinking block.
      enable_thinking: false,
      ...extra,
    });
  } catch (err) {
    // Templates call raise_exception for conversations they refuse (roles out of order, ...).
    throw new ApiError(400, `the chat template rejected these messages: ${(err as Error).message}`, 'invalid_request_error', 'messages');
  }
}
