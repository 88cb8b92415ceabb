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
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      let chunk: string;
      try {
        chunk = decoder.decode(buf.subarray(0, n), { stream: n > 0 });
      } catch {
        throw new Error(`${path}:${line + 1}: not valid UTF-8 text; save the file as UTF-8`);
      }
      pending += chunk;
      // At end of file the last line needs no newline.
      const last = n === 0 && pending !== '' ? pending.length : -1;
      let start = 0;
      for (let nl = pending.indexOf('\n'); nl >= 0 || last > start; nl = pending.indexOf('\n', start)) {
        const end = nl >= 0 ? nl : last;
        line++;
        const text = pending.charCodeAt(end - 1) === 13 ? pending.slice(start, end - 1) : pending.slice(start, end);
        start = end + 1;
        if (text.trim() !== '') yield { line, text };
      }
      pending = pending.slice(start);
      if (n === 0) break;
    }
  } finally {
    closeSync(fd);
  }
}
