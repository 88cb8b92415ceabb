// Async work on batches before the step that reads them. The Trainer reads batches synchronously
// (`stream.next()`); generating on-policy sequences with the student's current weights, or asking
// a fed teacher (ONNX, HTTP, a store) for its outputs, is async. A PreparedSource wraps a data
// source: `prepare(n)` runs the transforms on the next n batches ahead of time (the training loop
// calls it before the first step and after each one), and `next()` serves them.
//
// The cursor is {inner, index}: the inner source's cursor before the next unserved batch and that
// batch's ordinal, so a resumed run draws the same batch and gives the transforms the same index
// (on-policy coins and sampling seeds are keyed by it).
import type { Json } from '../checkpoint/index.ts';
import type { Batch, BatchStream, DataSource, EvalSource } from '../trainer/index.ts';
import type { DecoderModel } from '../../models/types.ts';
import type { Executor, ParamStore } from '../../runtime/index.ts';

export interface BatchInfo {
  /** Ordinal of the batch in the stream, from 0 (stable across resume). */
  index: number;
  /** The training step's folder name. */
  stage: string;
  /** The model being trained and its live parameter values (the ones the next step updates). */
  student: { model: DecoderModel; params: ParamStore };
  executor: Executor;
}

/** Returns the batch to train on: the same one with more feeds, or another one. */
export type BatchTransform = (batch: Batch, info: BatchInfo) => Promise<Batch>;

interface Ready {
  batch: Batch;
  cursor: Json;
}

class PreparedStream implements BatchStream {
  private readonly inner: BatchStream;
  private served: number;
  private readonly ready: Ready[] = [];

  constructor(
    source: DataSource,
    cursor: Json | undefined,
    private readonly run: (b: Batch, index: number) => Promise<Batch>,
  ) {
    if (cursor === undefined) {
      this.inner = source.open();
      this.served = 0;
      return;
    }
    const c = cursor as { inner?: Json; index?: unknown };
    if (typeof c !== 'object' || c === null || !('inner' in c) || !Number.isSafeInteger(c.index)) {
      throw new Error(
        `prepared batches: cursor ${JSON.stringify(cursor)} is not {inner, index}; was the checkpoint written by another kind of run?`,
      );
    }
    this.inner = source.open(c.inner);
    this.served = c.index as number;
  }

  async fill(n: number): Promise<void> {
    while (this.ready.length < n) {
      const cursor: Json = { inner: this.inner.cursor(), index: this.served + this.ready.length };
      const index = this.served + this.ready.length;
      const raw = this.inner.next();
      this.ready.push({ batch: await this.run(raw, index), cursor });
    }
  }

  next(): Batch {
    const r = this.ready.shift();
    if (!r)
      throw new Error(
        `prepared batches: batch ${this.served} was not prepared; call prepare() before each step (trainJob does)`,
      );
    this.served++;
    return r.batch;
  }

  cursor(): Json {
    return this.ready[0]?.cursor ?? { inner: this.inner.cursor(), index: this.served };
  }
}

export class PreparedSource implements DataSource {
  readonly inputs;
  private current?: PreparedStream;

  constructor(
    private readonly inner: DataSource,
    private readonly run: (b: Batch, index: number) => Promise<Batch>,
  ) {
    this.inputs = inner.inputs;
  }

  open(cursor?: Json): BatchStream {
    return (this.current = new PreparedStream(this.inner, cursor, this.run));
  }

  /** Prepares the next `n` batches of the stream opened last (the one the Trainer reads). */
  async prepare(n: number): Promise<void> {
    if (!this.current) throw new Error('prepared batches: no stream is open; create the Trainer first');
    await this.current.fill(n);
  }
}

/** The held-out batches with the transform applied once (fed teachers' outputs for evaluation). */
export async function prepareEval(source: EvalSource, transform: (b: Batch) => Promise<Batch>): Promise<EvalSource> {
  const batches: Batch[] = [];
  for (const b of source.batches()) batches.push(await transform(b));
  return { inputs: source.inputs, batches: () => batches };
}
