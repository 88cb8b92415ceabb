// The one tokenizer interface the rest of Retort sees. Implementations: HfTokenizer (any Hugging Face
// tokenizer.json, including ones trainByteLevelBpe writes) and CharTokenizer (tiny experiments).

export interface EncodeOptions {
  /**
   * Run the tokenizer's post-processor, e.g. Llama's template that prepends <s>. Default false: text
   * becomes exactly its own tokens, so decode(encode(x)) === x and callers join documents with eosId themselves.
   * Special tokens written in the text (e.g. "<|endoftext|>") are always matched as one id either way.
   */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (bos, eos, pad, ...) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

export interface Tokenizer {
  /** One more than the largest id: the size an embedding table needs. */
  readonly vocabSize: number;
  readonly bosId?: number;
  readonly eosId?: number;
  readonly padId?: number;
  readonly unkId?: number;
  /** Jinja chat template from tokenizer_config.json, when the model has one. */
  readonly chatTemplate?: string;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  /** undefined when the token is not in the vocabulary. */
  tokenToId(token: string): number | undefined;
  /** undefined when the id is out of range. */
  idToToken(id: number): string | undefined;
  /** Writes tokenizer.json and tokenizer_config.json into `dir` (created if needed). */
  save(dir: string): void;
}
