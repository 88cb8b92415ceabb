// Hugging Face tokenizers (tokenizer.json + tokenizer_config.json) behind Retort's Tokenizer interface.
// Encoding and decoding are done by @huggingface/tokenizers (Tokenizers.js, a pure JS port of the Rust
// library): byte-level BPE (GPT-2, Llama-3, Qwen), SentencePiece-style BPE with Metaspace and byte
// fallback (Llama-2, Mistral), Unigram and WordPiece. This file adds what it lacks: reading the files,
// resolving bos/eos/pad ids from the config, decode([]) and id range checks, and save().
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Tokenizer as HfEngine } from '@huggingface/tokenizers';
import { atomicWriteFile } from '../../io/atomic-write.ts';
import type { DecodeOptions, EncodeOptions, Tokenizer } from './tokenizer.ts';

/** The parts of tokenizer.json we read; the rest passes through to the engine and back to disk untouched. */
export interface TokenizerJson {
  model: { type?: string; vocab: unknown; merges?: unknown; unk_token?: string | null; [k: string]: unknown };
  added_tokens?: { id: number; content: string; special?: boolean; [k: string]: unknown }[];
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  post_processor?: unknown;
  decoder?: unknown;
  [k: string]: unknown;
}

/** A special token in tokenizer_config.json: a string, or an AddedToken object in older files. */
type SpecialTokenEntry = string | { content: string } | null | undefined;

export interface TokenizerConfigJson {
  bos_token?: SpecialTokenEntry;
  eos_token?: SpecialTokenEntry;
  pad_token?: SpecialTokenEntry;
  unk_token?: SpecialTokenEntry;
  chat_template?: string | { name: string; template: string }[];
  clean_up_tokenization_spaces?: boolean;
  [k: string]: unknown;
}

function tokenContent(entry: SpecialTokenEntry): string | undefined {
  if (entry == null) return undefined;
  return typeof entry === 'string' ? entry : entry.content;
}

function pickChatTemplate(t: TokenizerConfigJson['chat_template']): string | undefined {
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return (t.find((x) => x.name === 'default') ?? t[0])?.template;
  return undefined;
}

/**
 * The engine's BPE keeps a 10 000-entry LRU cache whose every hit deletes and re-inserts a Map key; on long
 * texts that bookkeeping costs more than the merges (profiled: ~40% of encode time on SOTU). A plain Map,
 * emptied when it grows past a bound, gives the same results faster. Skipped if the engine changes shape.
 */
function useFlatCache(engine: HfEngine): void {
  const model = engine.model as unknown as { cache?: { get: unknown; put: unknown } } | null;
  if (!model?.cache || typeof model.cache.get !== 'function' || typeof model.cache.put !== 'function') return;
  const map = new Map<string, string[]>();
  model.cache = {
    get: (key: string) => map.get(key),
    put: (key: string, value: string[]) => {
      if (map.size >= 200_000) map.clear();
      map.set(key, value);
    },
    clear: () => map.clear(),
  } as typeof model.cache;
}

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId?: number;
  readonly eosId?: number;
  readonly padId?: number;
  readonly unkId?: number;
  readonly chatTemplate?: string;
  private readonly engine: HfEngine;
  /** tokenizer_config.json's clean_up_tokenization_spaces; false when absent so decode stays lossless. */
  private readonly cleanUp: boolean;

  constructor(
    readonly json: TokenizerJson,
    readonly config: TokenizerConfigJson = {},
  ) {
    // The engine insists these keys exist; hand-written or minimal files often leave them out.
    const full = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      added_tokens: [],
      ...json,
    };
    this.engine = new HfEngine(full, config);
    useFlatCache(this.engine);
    this.vocabSize = this.engine.model!.vocab.length;
    const id = (entry: SpecialTokenEntry) => {
      const content = tokenContent(entry);
      return content === undefined ? undefined : this.engine.token_to_id(content);
    };
    this.bosId = id(config.bos_token);
    this.eosId = id(config.eos_token);
    this.padId = id(config.pad_token);
    this.unkId = id(config.unk_token ?? json.model.unk_token);
    this.chatTemplate = pickChatTemplate(config.chat_template);
    this.cleanUp = config.clean_up_tokenization_spaces ?? false;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const { ids, tokens } = this.engine.encode(text, { add_special_tokens: options.addSpecialTokens ?? false });
    const bad = ids.findIndex((i: number | undefined) => i === undefined);
    if (bad >= 0) {
      throw new Error(
        `tokenizer: piece ${JSON.stringify(tokens[bad])} of the text has no id and the model has no unk_token; this tokenizer.json cannot encode it`,
      );
    }
    return ids;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const list = Array.from(ids);
    if (list.length === 0) return ''; // the engine throws on an empty list
    for (const i of list) {
      if (!Number.isInteger(i) || i < 0 || i >= this.vocabSize || this.engine.id_to_token(i) === undefined) {
        throw new RangeError(
          `tokenizer.decode: id ${i} is not in the vocabulary (ids are 0..${this.vocabSize - 1}); was it produced by another tokenizer?`,
        );
      }
    }
    return this.engine.decode(list, {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.cleanUp,
    });
  }

  tokenToId(token: string): number | undefined {
    return this.engine.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.engine.id_to_token(id);
  }

  save(dir: string): void {
    atomicWriteFile(join(dir, 'tokenizer.json'), JSON.stringify(this.json, null, 2));
    const config: TokenizerConfigJson = { ...this.config };
    if (this.chatTemplate !== undefined && config.chat_template === undefined) config.chat_template = this.chatTemplate;
    atomicWriteFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
  }
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read it as JSON (${(err as Error).message}); download it again`);
  }
}

/**
 * Loads a Hugging Face tokenizer from a model folder or a tokenizer.json path. tokenizer_config.json
 * (special tokens, chat template) and chat_template.jinja (where newer transformers saves the template)
 * are read from the same folder when present.
 */
export function loadHfTokenizer(path: string): HfTokenizer {
  const isDir = existsSync(path) && statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  const jsonPath = isDir ? join(path, 'tokenizer.json') : path;
  if (!existsSync(jsonPath)) {
    const hint = existsSync(join(dir, 'tokenizer.model'))
      ? 'this folder has only a SentencePiece tokenizer.model; convert it with transformers (AutoTokenizer.from_pretrained(dir).save_pretrained(dir)) to get tokenizer.json'
      : 'download tokenizer.json from the model repository';
    throw new Error(`${jsonPath}: no such file; ${hint}`);
  }
  const json = readJson(jsonPath) as TokenizerJson;
  if (json === null || typeof json !== 'object' || typeof json.model !== 'object' || json.model === null) {
    throw new Error(`${jsonPath}: expected a tokenizer.json object with a "model" field`);
  }
  const configPath = join(dir, 'tokenizer_config.json');
  const config = (existsSync(configPath) ? readJson(configPath) : {}) as TokenizerConfigJson;
  const jinja = join(dir, 'chat_template.jinja');
  if (config.chat_template === undefined && existsSync(jinja)) config.chat_template = readFileSync(jinja, 'utf8');
  try {
    return new HfTokenizer(json, config);
  } catch (err) {
    throw new Error(`${jsonPath}: @huggingface/tokenizers cannot build this tokenizer (${(err as Error).message})`);
  }
}
