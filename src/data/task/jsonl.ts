// JSON Lines read as a stream: the file is read in chunks and cut at newlines, so a file of any
// size is read line by line with memory bounded by its longest line. Blank lines are skipped;
// line numbers count every line, so errors point at the line an editor shows.
import { closeSync, openSync, readSync } from 'node:fs';

export interface JsonlLine {
  /** 1-based. */
  line: number;
  text: string;
}

const CHUNK = 1 << 20;

/** Non-blank lines of a UTF-8 file, with their line numbers (CRLF endings accepted). */
export function* readLines(path: string): Generator<JsonlLine> {
  const fd = openSync(path, 'r');
  try {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const buf = Buffer.allocUnsafe(CHUNK);
    let pending = '';
    let line = 0;
    const emit = function* (raw: string): Generator<JsonlLine> {
      line++;
      const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (text.trim() !== '') yield { line, text };
    };
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      let chunk: string;
      try {
        chunk = decoder.decode(buf.subarray(0, n), { stream: n > 0 });
      } catch {
        throw new Error(`${path}:${line + 1}: not valid UTF-8 text; save the file as UTF-8`);
      }
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        yield* emit(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      if (n === 0) break;
    }
    if (pending !== '') yield* emit(pending);
  } finally {
    closeSync(fd);
  }
}
