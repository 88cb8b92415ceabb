// Offline distillation's teacher store: teacher outputs computed once, written append-only,
// reused across runs and students. It resumes where a killed writer stopped, refuses outputs of a
// different teacher, tokenizer or dataset, and serves records as views into one buffer, so
// reading costs no copies on the training path.
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { atomicWriteFile } from '../../models/checkpoint/atomic-write.ts';
import {
  HEADER_BYTES,
  layoutSchema,
  manifestSchema,
  payloadBytes,
  RECORD_MAGIC,
  recordBytes,
  type StoreIdentity,
  type StoreLayout,
  type StoreLayoutInput,
  type StoreManifest,
} from './format.ts';

export class StoreError extends Error {
  override name = 'StoreError';
}

export interface StoreRecord {
  ids: Int32Array; // (T·k)
  logprobs: Float32Array; // (T·k)
  hidden: Float32Array[]; // each (T·C)
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
  const parsed = manifestSchema.safeParse(raw);
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
      if (JSON.stringify(manifest.layout) !== JSON.stringify(layout)) {
        throw new StoreError(
          `${dir}: the store was written with layout ${JSON.stringify(manifest.layout)}, this run asks for ${JSON.stringify(layout)}; use a new folder`,
        );
      }
    } else {
      manifest = {
        format: 'retort-teacher-store',
        version: 1,
        identity,
        layout,
        count: 0,
        total: o.total,
        shard: o.shard,
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
        `append: expected ${n} top-k entries (seq ${l.seq} × k ${l.topK}), got ${rec.ids.length} ids and ${rec.logprobs.length} log-probs`,
      );
    if (rec.hidden.length !== l.hidden.length || rec.hidden.some((h) => h.length !== l.seq * l.dModel)) {
      throw new StoreError(`append: expected ${l.hidden.length} hidden states of ${l.seq * l.dModel} values`);
    }
    const buf = new Uint8Array(recordBytes(l));
    const payload = buf.subarray(HEADER_BYTES);
    let at = 0;
    for (const part of [rec.ids, rec.logprobs, ...rec.hidden]) {
      payload.set(new Uint8Array(part.buffer, part.byteOffset, part.byteLength), at);
      at += part.byteLength;
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

/** Reads a store whole into memory and serves records as typed-array views. */
export class StoreReader {
  private readonly bytes: Uint8Array;
  readonly manifest: StoreManifest;

  constructor(
    readonly dir: string,
    expected?: StoreIdentity,
  ) {
    this.manifest = readManifest(dir);
    if (expected) checkIdentity(dir, this.manifest.identity, expected);
    const size = recordBytes(this.manifest.layout) * this.manifest.count;
    const all = readFileSync(join(dir, RECORDS));
    if (all.length < size)
      throw new StoreError(
        `${join(dir, RECORDS)}: ${all.length} bytes, but the manifest commits ${this.manifest.count} records (${size} bytes); the file is truncated`,
      );
    // Copy into an aligned buffer once so every record's arrays are views.
    this.bytes = new Uint8Array(size);
    this.bytes.set(all.subarray(0, size));
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
    const off = i * recordBytes(l);
    const head = new DataView(this.bytes.buffer, off, HEADER_BYTES);
    const payload = this.bytes.subarray(off + HEADER_BYTES, off + HEADER_BYTES + payloadBytes(l));
    if (
      head.getUint32(0, true) !== RECORD_MAGIC ||
      head.getUint32(4, true) !== i ||
      head.getUint32(8, true) !== payload.length
    ) {
      throw new StoreError(`${this.dir}: record ${i} has a bad header; the store is damaged, label again`);
    }
    if (head.getUint32(12, true) !== crc32(payload))
      throw new StoreError(`${this.dir}: record ${i} fails its checksum; the store is damaged, label again`);
    const n = l.seq * l.topK;
    const base = payload.byteOffset;
    const hidden = l.hidden.map(
      (_, h) => new Float32Array(this.bytes.buffer, base + n * 8 + h * l.seq * l.dModel * 4, l.seq * l.dModel),
    );
    return {
      ids: new Int32Array(this.bytes.buffer, base, n),
      logprobs: new Float32Array(this.bytes.buffer, base + n * 4, n),
      hidden,
    };
  }
}
