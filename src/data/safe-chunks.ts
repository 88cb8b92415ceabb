// Regroups a stream of text pieces into chunks that can be tokenized one at a time and still give the ids
// the whole text would. A tokenizer is not additive at an arbitrary cut: byte-level BPE pre-tokenizers
// split text by regexes with lookahead (GPT-2's \s+(?!\S) gives a run's last space to the next word,
// Qwen's and Llama 3's [^\s\p{L}\p{N}]+[\r\n]* keep newlines with the punctuation before them),
// SentencePiece-style tokenizers prepend "▁" to the start of what they are given, and special tokens
// may span any cut. So a chunk ends only at a candidate boundary (a line start, or just before a space)
// where the caller's own check agrees: the text around the boundary encodes the same in two parts as in
// one. A tokenizer that never agrees (one that prefixes every input) gets its text in one chunk, as before.

/** True when cutting `left + right` between them changes nothing (the caller's tokenizer decides). */
export type Agrees = (left: string, right: string) => boolean;

export interface ChunkOptions {
  /** Characters a chunk aims at (default 1 Mi): each is cut at the last agreeing candidate of about this much text. */
  chunkChars?: number;
}

/** Characters on each side of a candidate boundary that the check sees. */
const WINDOW = 256;
/** A candidate needs at least this much text after it in view, so lookahead sees real text. */
const MIN_RIGHT = 16;
/** Candidates tried per chunk before giving up and carrying the text into the next one. */
const TRIES = 32;

const NEWLINE = 10;
const RETURN = 13;
const SPACE = 32;

/** A line start, or the gap before a space (between '\r' and '\n' too, for CRLF text). */
function isCandidate(text: string, p: number): boolean {
  const before = text.charCodeAt(p - 1);
  const after = text.charCodeAt(p);
  return before === NEWLINE || after === SPACE || (before === RETURN && after === NEWLINE);
}

/** The last position in text[from+1 ..] where the check agrees, or -1. */
function findCut(text: string, from: number, agrees: Agrees): number {
  let tries = 0;
  for (let p = text.length - MIN_RIGHT; p > from && tries < TRIES; p--) {
    if (!isCandidate(text, p)) continue;
    tries++;
    if (agrees(text.slice(Math.max(0, p - WINDOW), p), text.slice(p, p + WINDOW))) return p;
  }
  return -1;
}

/** Long pieces cut to about `size` characters, so no chunk starts out far longer than asked. */
function* bounded(pieces: Iterable<string>, size: number): Generator<string> {
  for (const p of pieces) {
    if (p.length <= 2 * size) yield p;
    else for (let i = 0; i < p.length; i += size) yield p.slice(i, i + size);
  }
}

/** The pieces' text, joined, re-cut into chunks that end where `agrees` says a cut is harmless. */
export function* safeChunks(pieces: Iterable<string>, agrees: Agrees, o: ChunkOptions = {}): Generator<string> {
  const size = o.chunkChars ?? 1 << 20;
  let carried: string[] = []; // text searched without finding a cut, waiting for one
  let recent = ''; // the WINDOW characters before `open`
  let open = ''; // text not searched yet
  for (const piece of bounded(pieces, size)) {
    open += piece;
    if (open.length < size) continue;
    const text = recent + open;
    const cut = findCut(text, recent.length, agrees);
    if (cut < 0) {
      carried.push(open);
      recent = text.slice(-WINDOW);
      open = '';
      continue;
    }
    carried.push(text.slice(recent.length, cut));
    yield carried.join('');
    carried = [];
    recent = text.slice(Math.max(0, cut - WINDOW), cut);
    open = text.slice(cut);
  }
  carried.push(open);
  const last = carried.join('');
  if (last !== '') yield last;
}
