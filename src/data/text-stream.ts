// A UTF-8 text file read as a stream of decoded pieces, so a corpus of any size is never one string (V8
// refuses strings over about 512 MB). The pieces join to exactly what readFileSync(path, 'utf8') gives:
// the decoder keeps a byte order mark, turns bad bytes into U+FFFD, and holds back a multi-byte
// character cut by a chunk edge until its last byte arrives.
import { closeSync, openSync, readSync } from 'node:fs';

/** Bytes read per step. */
export const READ_BYTES = 1 << 20;

/** The file's text as consecutive pieces, one per `chunkBytes` read (a piece may hold a few bytes more or less). */
export function* readTextPieces(path: string, chunkBytes = READ_BYTES): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    const buf = Buffer.allocUnsafe(chunkBytes);
    for (;;) {
      const n = readSync(fd, buf, 0, chunkBytes, null);
      const piece = decoder.decode(buf.subarray(0, n), { stream: n > 0 });
      if (piece !== '') yield piece;
      if (n === 0) return;
    }
  } finally {
    closeSync(fd);
  }
}

/** The text's length in UTF-16 code units, as string.length counts it, without holding the text. */
export function textLength(pieces: Iterable<string>): number {
  let n = 0;
  for (const p of pieces) n += p.length;
  return n;
}

/** The part of a stream of pieces from code unit `start` up to `end`, as text.slice(start, end) would cut it. */
export function* slicePieces(pieces: Iterable<string>, start: number, end = Infinity): Generator<string> {
  let at = 0;
  for (const p of pieces) {
    const from = Math.max(start - at, 0);
    const to = Math.min(end - at, p.length);
    if (from < to) yield from === 0 && to === p.length ? p : p.slice(from, to);
    at += p.length;
    if (at >= end) return;
  }
}
