// Encodes a text given as a stream of pieces into one compact Int32Array: the ids tokenizer.encode would
// give the whole text, without the whole text or a JS number[] of all its ids ever in memory.
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import { safeChunks, type Agrees, type ChunkOptions } from './safe-chunks.ts';

/** An Int32Array that grows by half as ids arrive. */
class IdBuffer {
  private data: Int32Array;
  length = 0;

  constructor(capacity: number) {
    this.data = new Int32Array(Math.max(1024, capacity));
  }

  push(ids: readonly number[]): void {
    if (this.length + ids.length > this.data.length) {
      const grown = new Int32Array(Math.max(this.length + ids.length, Math.ceil(this.data.length * 1.5)));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(ids, this.length);
    this.length += ids.length;
  }

  /** The ids; copied to their exact size only when the spare room is worth giving back. */
  take(): Int32Array {
    const ids = this.data.subarray(0, this.length);
    return this.data.length > this.length * 1.25 + 1024 ? ids.slice() : ids;
  }
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** True where encoding `left` and `right` apart gives the ids of encoding them together. */
export function tokenizerAgrees(tokenizer: Tokenizer): Agrees {
  return (left, right) =>
    sameIds([...tokenizer.encode(left), ...tokenizer.encode(right)], tokenizer.encode(left + right));
}

/** tokenizer.encode(pieces joined), chunk by chunk. `chars` (the text's length, when known) sizes the buffer. */
export function encodeStream(
  tokenizer: Tokenizer,
  pieces: Iterable<string>,
  o: ChunkOptions & { chars?: number } = {},
): Int32Array {
  const out = new IdBuffer(Math.ceil((o.chars ?? 0) / 3));
  for (const chunk of safeChunks(pieces, tokenizerAgrees(tokenizer), o)) out.push(tokenizer.encode(chunk));
  return out.take();
}
