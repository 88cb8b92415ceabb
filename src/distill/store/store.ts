// Offline distillation's teacher store: teacher outputs computed once, written append-only,
// reused across runs and students. It resumes where a killed writer stopped, refuses outputs of a
// different teacher, tokenizer or dataset, or of another layout (encoding, k, target kind), and
// reads one record at a time at its file offset, so a store larger than memory (or than the 2 GiB
// a single Node buffer holds) serves as well as a small one.
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { atomicWriteFile } from '../../io/atomic-write.ts';
import { bytesPerToken, encodings, payloadBytes, recordBytes, type StoreRecord } from './codec.ts';
import {
  HEADER_BYTES,
  layoutSchema,
  manifestSchema,
  RECORD_MAGIC,
  STORE_VERSION,
  upgradeManifest,
  type StoreIdentity,
  type StoreLayout,
  type StoreLayoutInput,
  type StoreManifest,
} from './format.ts';

export type { StoreRecord } from './codec.ts';

export class StoreError extends Error {
  override name = 'StoreError';
}

const MANIFEST = 'manifest.json';
const RECORDS = 'records.bin';

function readManifest(dir: string): StoreManifest {
  const path = join(dir, MANIFEST);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new StoreError(
      `${path}: cannot read the store manifest (${(e as Error).message}); the folder is not a Retort teacher store or the file is damaged`,
    );
  }
  const parsed = manifestSchema.safeParse(upgradeManifest(raw));
  if (!parsed.success)
    throw new StoreError(
      `${path}: not a valid store manifest: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

export function checkIdentity(dir: string, have: StoreIdentity, want: StoreIdentity): void {
  for (const key of ['teacher', 'tokenizer', 'dataset'] as const) {
    if (have[key] !== want[key]) {
      throw new StoreError(
        `${dir}: this store holds outputs for ${key} '${have[key]}', not '${want[key]}'. Outputs of a different ${key} would teach the wrong targets; label into a new folder`,
      );
    }
  }
}

/** What to change to use a store whose layout field differs from the run's (else: a new folder). */
const LAYOUT_FIX: Partial<Record<keyof StoreLayout, (have: StoreLayout) => string>> = {
  encoding: (h) =>
    `set encoding: ${h.encoding} (the offline step's encoding, or retort label --encoding ${h.encoding})`,
  targets: (h) => `set targets: ${h.targets} (the offline step's targets, or retort label --targets ${h.targets})`,
  topK: (h) =>
    h.targets === 'sampled'
      ? `set samples: ${h.topK} (the offline step's samples, or retort label --samples ${h.topK})`
      : `set topK: ${h.topK} (the offline step's topK, or retort label --top-k ${h.topK})`,
  seed: (h) => `set seed: ${h.seed} (the offline step's seed)`,
};
const LAYOUT_KEYS = ['encoding', 'targets', 'topK', 'seed', 'seq', 'vocabSize', 'hidden', 'dModel'] as const;

/**
 * Refuses a store whose layout differs from the run's in any of the keys `want` gives: records of
 * another encoding, k or target kind would be misread or teach other targets. The error names the
 * manifest field, both values, and the setting that would match the store.
 */
export function checkLayout(dir: string, have: StoreLayout, want: Partial<StoreLayout>): void {
  for (const key of LAYOUT_KEYS) {
    if (!(key in want) || JSON.stringify(have[key]) === JSON.stringify(want[key])) continue;
    const fix = LAYOUT_FIX[key]?.(have);
    throw new StoreError(
      `${join(dir, MANIFEST)}: layout.${key} is ${JSON.stringify(have[key]) ?? 'unset'}, but this run asks for ${JSON.stringify(want[key]) ?? 'none'}; ${fix ? `${fix} to use this store, or ` : ''}label into a new folder`,
    );
  }
}

/** Appends teacher outputs; reopening an existing store continues after its last committed record. */
export class StoreWriter {
  private fd: number;
  private pending = 0;

  private constructor(
    readonly dir: string,
    private manifest: StoreManifest,
    private readonly commitEvery: number,
  ) {
    this.fd = openSync(join(dir, RECORDS), 'r+');
    // Drop any tail a killed writer left past the committed records.
    const committedBytes = manifest.count * recordBytes(manifest.layout);
    const size = fstatSync(this.fd).size;
    if (size < committedBytes) {
      closeSync(this.fd);
      throw new StoreError(
        `${dir}: records.bin holds ${size} bytes but the manifest commits ${manifest.count} records (${committedBytes} bytes); the store is damaged, label again`,
      );
    }
    if (size > committedBytes) ftruncateSync(this.fd, committedBytes);
  }

  static open(
    dir: string,
    identity: StoreIdentity,
    layoutInput: StoreLayoutInput,
    o: { total?: number; shard?: StoreManifest['shard']; commitEvery?: number } = {},
  ): StoreWriter {
    const layout = layoutSchema.parse(layoutInput);
    mkdirSync(dir, { recursive: true });
    let manifest: StoreManifest;
    if (existsSync(join(dir, MANIFEST))) {
      manifest = readManifest(dir);
      checkIdentity(dir, manifest.identity, identity);
      checkLayout(dir, manifest.layout, layout);
    } else {
      manifest = {
        format: 'retort-teacher-store',
        version: STORE_VERSION,
        identity,
        layout,
        count: 0,
        total: o.total,
        shard: o.shard,
        bytesPerToken: bytesPerToken(layout),
      };
      closeSync(openSync(join(dir, RECORDS), 'w'));
      atomicWriteFile(join(dir, MANIFEST), JSON.stringify(manifest, null, 2));
    }
    return new StoreWriter(dir, manifest, o.commitEvery ?? 64);
  }

  /** Records committed so far: the next example to label. */
  get count(): number {
    return this.manifest.count + this.pending;
  }

  get layout(): StoreLayout {
    return this.manifest.layout;
  }

  append(rec: StoreRecord): void {
    const l = this.manifest.layout;
    const n = l.seq * l.topK;
    if (rec.ids.length !== n || rec.logprobs.length !== n)
      throw new StoreError(
        `append: expected ${n} entries (seq ${l.seq} × k ${l.topK}), got ${rec.ids.length} ids and ${rec.logprobs.length} log-probs`,
      );
    if (rec.hidden.length !== l.hidden.length || rec.hidden.some((h) => h.length !== l.seq * l.dModel)) {
      throw new StoreError(`append: expected ${l.hidden.length} hidden states of ${l.seq * l.dModel} values`);
    }
    const buf = new Uint8Array(recordBytes(l));
    const payload = buf.subarray(HEADER_BYTES);
    try {
      encodings[l.encoding].encode(rec, l, payload);
    } catch (e) {
      throw new StoreError(`append: example ${this.count} (${l.encoding} encoding): ${(e as Error).message}`);
    }
    const head = new DataView(buf.buffer);
    head.setUint32(0, RECORD_MAGIC, true);
    head.setUint32(4, this.count, true);
    head.setUint32(8, payload.length, true);
    head.setUint32(12, crc32(payload), true);
    writeSync(this.fd, buf, 0, buf.length, this.count * buf.length);
    if (++this.pending >= this.commitEvery) this.commit();
  }

  /** Makes appended records durable, then advances the manifest's count (in that order). */
  commit(): void {
    if (this.pending === 0) return;
    fsyncSync(this.fd);
    this.manifest = { ...this.manifest, count: this.manifest.count + this.pending };
    this.pending = 0;
    atomicWriteFile(join(this.dir, MANIFEST), JSON.stringify(this.manifest, null, 2));
  }

  close(): void {
    this.commit();
    closeSync(this.fd);
  }
}

/**
 * Reads a store record by record: one positional read per record from an fd kept open, never the
 * whole file, so its size is bounded by the disk alone. Each record's header and CRC are checked
 * as it is read. close() releases the file (a reader that is dropped holds it until the process ends).
 */
export class StoreReader {
  private fd: number | undefined;
  readonly manifest: StoreManifest;
  private readonly size: number;

  constructor(
    readonly dir: string,
    expected?: StoreIdentity,
    layout?: Partial<StoreLayout>,
  ) {
    this.manifest = readManifest(dir);
    if (expected) checkIdentity(dir, this.manifest.identity, expected);
    if (layout) checkLayout(dir, this.manifest.layout, layout);
    this.size = recordBytes(this.manifest.layout);
    const path = join(dir, RECORDS);
    this.fd = openSync(path, 'r');
    const have = fstatSync(this.fd).size,
      want = this.size * this.manifest.count;
    if (have < want) {
      this.close();
      throw new StoreError(
        `${path}: ${have} bytes, but the manifest commits ${this.manifest.count} records (${want} bytes); the file is truncated`,
      );
    }
  }

  get count(): number {
    return this.manifest.count;
  }

  get layout(): StoreLayout {
    return this.manifest.layout;
  }

  /** Example `i`'s record; its CRC is checked, so a flipped byte is refused rather than trained on. */
  get(i: number): StoreRecord {
    const l = this.manifest.layout;
    if (!Number.isInteger(i) || i < 0 || i >= this.count)
      throw new StoreError(`${this.dir}: example ${i} is not in the store (it holds 0..${this.count - 1})`);
    if (this.fd === undefined) throw new StoreError(`${this.dir}: the reader is closed`);
    // A fresh buffer per record: offset 0 is aligned, so the payload (at 16) can hold typed-array views.
    const buf = new Uint8Array(this.size);
    for (let got = 0; got < buf.length; ) {
      const n = readSync(this.fd, buf, got, buf.length - got, i * this.size + got);
      if (n === 0) throw new StoreError(`${this.dir}: record ${i} is cut short; the store is damaged, label again`);
      got += n;
    }
    const head = new DataView(buf.buffer, 0, HEADER_BYTES);
    const payload = buf.subarray(HEADER_BYTES);
    if (
      head.getUint32(0, true) !== RECORD_MAGIC ||
      head.getUint32(4, true) !== i ||
      head.getUint32(8, true) !== payloadBytes(l)
    ) {
      throw new StoreError(`${this.dir}: record ${i} has a bad header; the store is damaged, label again`);
    }
    if (head.getUint32(12, true) !== crc32(payload))
      throw new StoreError(`${this.dir}: record ${i} fails its checksum; the store is damaged, label again`);
    return encodings[l.encoding].decode(payload, l);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
