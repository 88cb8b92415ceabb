// One token per unicode code point, for tiny experiments where a learned vocabulary would get in the way.
// Ids: the unknown token 0, then the special tokens, then the corpus's characters in code point order.
// It saves as a real Hugging Face tokenizer.json (a BPE model with no merges splits text into characters,
// and the Fuse decoder joins them back), so loadHfTokenizer and transformers read it too.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { atomicWriteFile } from '../../io/atomic-write.ts';
import { splitOnSpecials } from './byte-level.ts';
import type { TokenizerConfigJson, TokenizerJson } from './hf-tokenizer.ts';
import type { DecodeOptions, Tokenizer } from './tokenizer.ts';

export interface CharTokenizerOptions {
  /** Stands for any character the corpus did not have (default '<unk>'). */
  unkToken?: string;
  /** Kept whole when they appear in text; bos/eos/pad tokens are added here if missing. */
  specialTokens?: string[];
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
}

export class CharTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly unkId = 0;
  readonly bosId?: number;
  readonly eosId?: number;
  readonly padId?: number;
  private readonly ids: Map<string, number>;
  private readonly specials: string[];
  private readonly specialIds: Set<number>;

  /** `tokens` by id: tokens[0] is the unknown token, then `specialCount` special tokens, then characters. */
  constructor(
    private readonly tokens: readonly string[],
    specialCount: number,
    private readonly names: { bosToken?: string; eosToken?: string; padToken?: string } = {},
  ) {
    this.ids = new Map(tokens.map((t, i) => [t, i]));
    if (this.ids.size !== tokens.length) throw new Error('CharTokenizer: tokens must be unique');
    this.vocabSize = tokens.length;
    this.specials = tokens.slice(1, 1 + specialCount);
    this.specialIds = new Set(Array.from({ length: specialCount + 1 }, (_, i) => i));
    this.bosId = names.bosToken === undefined ? undefined : this.ids.get(names.bosToken);
    this.eosId = names.eosToken === undefined ? undefined : this.ids.get(names.eosToken);
    this.padId = names.padToken === undefined ? undefined : this.ids.get(names.padToken);
  }

  static fromCorpus(texts: Iterable<string>, options: CharTokenizerOptions = {}): CharTokenizer {
    const unk = options.unkToken ?? '<unk>';
    const specials = [...(options.specialTokens ?? [])];
    for (const t of [options.bosToken, options.eosToken, options.padToken])
      if (t !== undefined && !specials.includes(t)) specials.push(t);
    const chars = new Set<string>();
    for (const text of texts) {
      for (const part of splitOnSpecials(text, specials)) if (!part.special) for (const ch of part.text) chars.add(ch);
    }
    const reserved = new Set([unk, ...specials]);
    const sorted = [...chars].filter((c) => !reserved.has(c)).sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer([unk, ...specials, ...sorted], specials.length, options);
  }

  /** Loads what save() wrote (a folder or its tokenizer.json). */
  static load(path: string): CharTokenizer {
    const jsonPath = path.endsWith('.json') ? path : join(path, 'tokenizer.json');
    const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as TokenizerJson;
    const model = json.model;
    if (
      model.type !== 'BPE' ||
      !Array.isArray(model.merges) ||
      model.merges.length > 0 ||
      typeof model.unk_token !== 'string'
    ) {
      throw new Error(
        `${jsonPath}: not a character tokenizer (expected a BPE model with no merges and an unk_token); use loadHfTokenizer for other tokenizers`,
      );
    }
    const vocab = model.vocab as Record<string, number>;
    const tokens: string[] = [];
    for (const [t, i] of Object.entries(vocab)) tokens[i] = t;
    if (tokens[0] !== model.unk_token)
      throw new Error(`${jsonPath}: expected the unknown token at id 0, found ${JSON.stringify(tokens[0])}`);
    const specialCount = (json.added_tokens ?? []).filter((t) => t.special && t.id > 0).length;
    const configPath = join(dirname(jsonPath), 'tokenizer_config.json');
    const config = (existsSync(configPath) ? JSON.parse(readFileSync(configPath, 'utf8')) : {}) as TokenizerConfigJson;
    const name = (t: unknown) => (typeof t === 'string' ? t : undefined);
    return new CharTokenizer(tokens, specialCount, {
      bosToken: name(config.bos_token),
      eosToken: name(config.eos_token),
      padToken: name(config.pad_token),
    });
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const part of splitOnSpecials(text, this.specials)) {
      if (part.special) out.push(this.ids.get(part.text)!);
      else for (const ch of part.text) out.push(this.ids.get(ch) ?? this.unkId);
    }
    return out;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    let out = '';
    for (const id of Array.from(ids)) {
      const t = this.tokens[id];
      if (t === undefined)
        throw new RangeError(
          `CharTokenizer.decode: id ${id} is not in the vocabulary (ids are 0..${this.vocabSize - 1})`,
        );
      if (!(options.skipSpecialTokens && this.specialIds.has(id))) out += t;
    }
    return out;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  save(dir: string): void {
    const unk = this.tokens[0]!;
    const json: TokenizerJson = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [unk, ...this.specials].map((content, id) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: 'Fuse' },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: unk,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab: Object.fromEntries(this.tokens.map((t, i) => [t, i])),
        merges: [],
      },
    };
    const config: TokenizerConfigJson = {
      tokenizer_class: 'PreTrainedTokenizerFast',
      clean_up_tokenization_spaces: false,
      unk_token: unk,
      ...(this.names.bosToken !== undefined && { bos_token: this.names.bosToken }),
      ...(this.names.eosToken !== undefined && { eos_token: this.names.eosToken }),
      ...(this.names.padToken !== undefined && { pad_token: this.names.padToken }),
    };
    atomicWriteFile(join(dir, 'tokenizer.json'), JSON.stringify(json, null, 2));
    atomicWriteFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
  }
}
