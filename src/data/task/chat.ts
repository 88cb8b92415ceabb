// Conversations → text through the tokenizer's chat template (tokenizer_config.json's
// chat_template, or chat_template.jinja beside it), rendered by @huggingface/jinja, with the
// character span of every message's content in the rendered text. The spans come from the render
// itself: each content is first replaced by a unique marker, the markers are found in the output,
// and the real contents are put back in their place; the result must equal the template's own
// rendering of the real conversation, so the spans are exact on any template that copies contents
// through (templates that `trim` them are handled by rendering trimmed contents).
import { Template } from '@huggingface/jinja';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import type { ChatMessage, Role } from './types.ts';

/**
 * The layout for tokenizers without a chat template (Retort's character and BPE tokenizers): each
 * turn is its role, a colon and a newline, then its content and a newline; an assistant turn ends
 * with the end-of-sequence token before its newline, so a model learns to stop. The prompt for an
 * answer ends with "assistant:\n".
 */
export const DEFAULT_CHAT_TEMPLATE =
  '{%- for message in messages -%}' +
  "{{- message['role'] + ':\\n' + message['content'] -}}" +
  "{%- if message['role'] == 'assistant' -%}{{- eos_token -}}{%- endif -%}" +
  "{{- '\\n' -}}" +
  '{%- endfor -%}' +
  "{%- if add_generation_prompt -%}{{- 'assistant:\\n' -}}{%- endif -%}";

export interface RenderOptions {
  /** Append the template's opening of an assistant turn (the prompt for an answer). */
  addGenerationPrompt: boolean;
  /** Variables beside messages (they override the defaults: bos_token/eos_token from the tokenizer, enable_thinking: false). */
  extra?: Record<string, unknown>;
}

export interface RenderedTurn {
  role: Role;
  /** [start, end) of the content in the rendered text; absent when the template left the message out. */
  span?: [number, number];
}

export interface RenderedConversation {
  text: string;
  turns: RenderedTurn[];
  /** Whether the contents were trimmed because the template trims them. */
  trimmed: boolean;
}

/** Which template a tokenizer renders with, and a name for logs. */
export function chatTemplateOf(tokenizer: Tokenizer): { source: string; name: 'tokenizer' | 'default' } {
  return tokenizer.chatTemplate
    ? { source: tokenizer.chatTemplate, name: 'tokenizer' }
    : { source: DEFAULT_CHAT_TEMPLATE, name: 'default' };
}

const compiled = new Map<string, Template>();

function compile(source: string): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (err) {
      throw new Error(
        `chat template does not parse (${(err as Error).message}); fix tokenizer_config.json's chat_template`,
        { cause: err },
      );
    }
    compiled.set(source, t);
  }
  return t;
}

function variables(tokenizer: Tokenizer, extra: Record<string, unknown> | undefined): Record<string, unknown> {
  const token = (id: number | undefined) => (id === undefined ? '' : (tokenizer.idToToken(id) ?? ''));
  // enable_thinking false: Qwen3-style templates then write the empty thinking block into the prompt,
  // the same block they put before a stored answer, so prompts at training and at generation agree.
  return { bos_token: token(tokenizer.bosId), eos_token: token(tokenizer.eosId), enable_thinking: false, ...extra };
}

/** Renders the messages as the template does; errors name the template's complaint. */
export function renderText(tokenizer: Tokenizer, messages: readonly ChatMessage[], o: RenderOptions): string {
  const t = compile(chatTemplateOf(tokenizer).source);
  try {
    return t.render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: o.addGenerationPrompt,
      ...variables(tokenizer, o.extra),
    });
  } catch (err) {
    throw new Error(`the chat template cannot render this conversation: ${(err as Error).message}`, { cause: err });
  }
}

const marker = (i: number) => `\uE000${i}\uE001`;

function withSpans(
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  o: RenderOptions,
): RenderedConversation | undefined {
  const marked = renderText(
    tokenizer,
    messages.map((m, i) => ({ role: m.role, content: marker(i) })),
    o,
  );
  let text = '';
  let from = 0;
  const turns: RenderedTurn[] = messages.map((m) => ({ role: m.role }));
  const found = [...marked.matchAll(/\uE000(\d+)\uE001/g)];
  let last = -1;
  for (const f of found) {
    const i = Number(f[1]);
    if (i <= last || turns[i]!.span) return undefined; // out of order or repeated: not a plain copy
    last = i;
    text += marked.slice(from, f.index);
    const start = text.length;
    text += messages[i]!.content;
    turns[i]!.span = [start, text.length];
    from = f.index! + f[0].length;
  }
  text += marked.slice(from);
  return text === renderText(tokenizer, messages, o) ? { text, turns, trimmed: false } : undefined;
}

/** The rendered conversation with each content's span; throws when the template rewrites contents. */
export function renderConversation(
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  o: RenderOptions,
): RenderedConversation {
  const plain = withSpans(tokenizer, messages, o);
  if (plain) return plain;
  const trimmedMessages = messages.map((m) => ({ ...m, content: m.content.trim() }));
  const trimmed = withSpans(tokenizer, trimmedMessages, o);
  if (trimmed) return { ...trimmed, trimmed: true };
  throw new Error(
    "the chat template changes the messages' contents (beyond trimming them), so the answer's tokens cannot be located in its output; " +
      'use a template that copies each content through, or remove what it rewrites from the data',
  );
}
