// A Hugging Face tokenizer.json as GGUF's tokenizer.ggml.* metadata. GGUF holds byte-level BPE
// vocabularies ("gpt2" model: tokens as their byte-to-unicode strings, merges as "a b"), with the
// pre-tokenizer named by tokenizer.ggml.pre, which llama.cpp maps to its split regex. The regex is
// recognised from the file, one row per known pre-tokenizer; anything else is refused, since
// llama.cpp would then split text differently from the tokenizer the model was trained with.
import { type GgufValue, str, u32 } from './format.ts';

interface TokenizerJson {
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] };
  pre_tokenizer?: unknown;
  added_tokens?: { id: number; content: string; special?: boolean }[];
}

/** Split regexes llama.cpp knows, by its tokenizer.ggml.pre name. */
const PRE_TOKENIZERS: { pre: string; regex?: string; what: string }[] = [
  { pre: 'gpt-2', what: "GPT-2's (ByteLevel with use_regex: GPT-2's split built in; Retort's own BPE)" },
  {
    pre: 'llama-bpe',
    regex:
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    what: 'Llama 3',
  },
  {
    pre: 'qwen2',
    regex:
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    what: 'Qwen2 / Qwen3',
  },
];

/** The tokenizer.ggml.pre name for a tokenizer.json's pre_tokenizer, or why there is none. */
export function preTokenizerOf(pre: unknown): string {
  const p = pre as {
    type?: string;
    use_regex?: boolean;
    pretokenizers?: { type?: string; pattern?: { Regex?: string }; use_regex?: boolean }[];
  } | null;
  if (p?.type === 'ByteLevel' && p.use_regex !== false) return 'gpt-2';
  if (p?.type === 'Sequence' && p.pretokenizers?.length === 2) {
    const [split, bytes] = p.pretokenizers;
    if (split?.type === 'Split' && bytes?.type === 'ByteLevel' && bytes.use_regex === false) {
      const known = PRE_TOKENIZERS.find((k) => k.regex === split.pattern?.Regex);
      if (known) return known.pre;
    }
  }
  throw new Error(
    `GGUF export: the tokenizer's pre-tokenizer ${JSON.stringify(pre).slice(0, 160)} is not one GGUF can name; GGUF export writes byte-level BPE tokenizers split as ${PRE_TOKENIZERS.map((k) => k.what).join(', ')}`,
  );
}

/** tokenizer.ggml.* entries for a byte-level BPE tokenizer.json; bos/eos from the model's config when given. */
export function tokenizerMetadata(
  json: TokenizerJson,
  o: { vocabSize: number; bosId?: number; eosId?: number; padId?: number },
): [string, GgufValue][] {
  const m = json.model;
  if (m?.type !== 'BPE' || !m.vocab || !m.merges) {
    throw new Error(
      `GGUF export: the tokenizer is a ${m?.type ?? 'model-less'} tokenizer; GGUF export writes byte-level BPE tokenizers (GPT-2, Llama 3, Qwen2 style)`,
    );
  }
  const pre = preTokenizerOf(json.pre_tokenizer);
  // llama.cpp wants one token per id of the embedding table: ids the tokenizer lacks get placeholders.
  const tokens = new Array<string>(o.vocabSize).fill('');
  const types = new Array<number>(o.vocabSize).fill(1); // 1 normal
  for (const [t, id] of Object.entries(m.vocab)) if (id < o.vocabSize) tokens[id] = t;
  for (const a of json.added_tokens ?? []) {
    if (a.id >= o.vocabSize) continue;
    tokens[a.id] = a.content;
    types[a.id] = a.special ? 3 : 4; // 3 control, 4 user-defined
  }
  tokens.forEach((t, id) => {
    if (t === '') {
      tokens[id] = `[PAD${id}]`;
      types[id] = 5; // unused
    }
  });
  const merges = m.merges.map((x) => (Array.isArray(x) ? x.join(' ') : x));
  const out: [string, GgufValue][] = [
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.pre', str(pre)],
    ['tokenizer.ggml.tokens', { type: 'strings', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'i32s', value: types }],
    ['tokenizer.ggml.merges', { type: 'strings', value: merges }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
  ];
  if (o.bosId !== undefined) out.push(['tokenizer.ggml.bos_token_id', u32(o.bosId)]);
  if (o.eosId !== undefined) out.push(['tokenizer.ggml.eos_token_id', u32(o.eosId)]);
  if (o.padId !== undefined) out.push(['tokenizer.ggml.padding_token_id', u32(o.padId)]);
  return out;
}
