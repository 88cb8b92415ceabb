// GPT-2's byte-level alphabet and pre-tokenization, used by the BPE trainer (encoding itself is done by
// @huggingface/tokenizers, which has its own copy; the trainer-vs-encoder test checks the two agree).
// Every byte maps to one printable unicode character, so any UTF-8 text becomes a string over a
// 256-symbol alphabet with no unknown tokens; bytes that are already printable map to themselves,
// the rest (space, control bytes, ...) to U+0100 onwards, which is why GPT-2 tokens show a space as 'Ġ'.

/** BYTE_TO_CHAR[b] is the character standing for byte b (GPT-2's bytes_to_unicode). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(printable(b) ? b : next++);
  return out;
})();

/**
 * GPT-2's pre-tokenization regex (the one Hugging Face's ByteLevel pre-tokenizer uses with use_regex):
 * contractions, runs of letters, runs of digits, runs of other symbols, each with at most one leading space.
 * \s+(?!\S) leaves the last space of a run to start the next word.
 */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Splits text around any of `specials` (longest first); special tokens come back as their own pieces. */
export function splitOnSpecials(text: string, specials: readonly string[]): { text: string; special: boolean }[] {
  if (specials.length === 0) return [{ text, special: false }];
  const escaped = [...specials]
    .sort((a, b) => b.length - a.length)
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`(${escaped.join('|')})`, 'g');
  const set = new Set(specials);
  return text
    .split(re)
    .filter((p) => p.length > 0)
    .map((p) => ({ text: p, special: set.has(p) }));
}
