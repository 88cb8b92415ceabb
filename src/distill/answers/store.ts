// The answer store of sequence-level KD (FORMAT.md beside this file): a teacher's answers to the
// task's prompts, keyed by prompt id, written once and reused. Appends go to answers.jsonl; a
// commit fsyncs them and then atomically advances the manifest's committed length, so a killed run
// loses only uncommitted answers and a rerun writes each prompt once.
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
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { atomicWriteFile } from '../../io/atomic-write.ts';
import { canonicalJson, type Json } from '../checkpoint/index.ts';

export const ANSWER_STORE_FORMAT = 'retort-answer-store';
export const ANSWER_STORE_VERSION = 1;

export interface AnswerIdentity {
  /** Teacher.fingerprint. */
  teacher: string;
  /** Hash of the vocabulary in id order. */
  tokenizer: string;
  /** Everything else the answers depend on: n, maxNewTokens, sampling settings, seed. */
  settings: Record<string, Json>;
}

export interface StoredAnswer {
  text: string;
  /** Answer token ids, the closing end-of-turn token excluded. */
  ids: number[];
  finish: 'stop' | 'length';
}

const manifestSchema = z.object({
  format: z.literal(ANSWER_STORE_FORMAT),
  version: z.literal(ANSWER_STORE_VERSION),
  identity: z.object({
    teacher: z.string(),
    tokenizer: z.string(),
    settings: z.record(
      z.string(),
      z.custom<Json>((v) => v !== undefined),
    ),
  }),
  count: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
});
type Manifest = z.infer<typeof manifestSchema>;

const checksum = (id: string, answers: readonly StoredAnswer[]) =>
  createHash('sha256').update(canonicalJson({ id, answers })).digest('hex');

function identityDiff(want: AnswerIdentity, have: AnswerIdentity): string | undefined {
  if (want.teacher !== have.teacher)
    return `teacher: the store holds answers of teacher ${have.teacher}, this run's is ${want.teacher}`;
  if (want.tokenizer !== have.tokenizer)
    return `tokenizer: the store was written with vocabulary ${have.tokenizer}, this run uses ${want.tokenizer}`;
  const keys = new Set([...Object.keys(want.settings), ...Object.keys(have.settings)]);
  // An absent key and a null one are different settings: `k in` tells them apart.
  const show = (s: Record<string, Json>, k: string) => (k in s ? canonicalJson(s[k]) : '(not set)');
  for (const k of keys) {
    if (show(want.settings, k) !== show(have.settings, k)) {
      return `settings.${k}: the store's answers were written with ${show(have.settings, k)}, this run asks for ${show(want.settings, k)}`;
    }
  }
  return undefined;
}

export class AnswerStore {
  private readonly answers = new Map<string, StoredAnswer[]>();
  private pending: string[] = [];
  private manifest: Manifest;

  private constructor(
    readonly dir: string,
    manifest: Manifest,
  ) {
    this.manifest = manifest;
  }

  get identity(): AnswerIdentity {
    return this.manifest.identity;
  }

  private get manifestPath() {
    return join(this.dir, 'manifest.json');
  }

  private get recordsPath() {
    return join(this.dir, 'answers.jsonl');
  }

  /** Creates the store, or reopens one written with the same identity (refusing any other). */
  static open(dir: string, identity: AnswerIdentity): AnswerStore {
    if (!existsSync(join(dir, 'manifest.json'))) {
      mkdirSync(dir, { recursive: true });
      const store = new AnswerStore(dir, {
        format: ANSWER_STORE_FORMAT,
        version: ANSWER_STORE_VERSION,
        identity,
        count: 0,
        bytes: 0,
      });
      atomicWriteFile(store.recordsPath, '');
      store.writeManifest();
      return store;
    }
    const store = AnswerStore.read(dir);
    const diff = identityDiff(identity, store.identity);
    if (diff)
      throw new Error(
        `${dir}: this answer store belongs to another run (${diff}); use another dir, or delete this one to write the answers again`,
      );
    // A killed writer may have left bytes past the committed length: they are not part of the store.
    if (statSync(store.recordsPath).size > store.manifest.bytes) truncateSync(store.recordsPath, store.manifest.bytes);
    return store;
  }

  /** Opens a store to read it, whatever its identity; every committed record is checked. */
  static read(dir: string): AnswerStore {
    const path = join(dir, 'manifest.json');
    let raw: { format?: unknown; version?: unknown };
    try {
      raw = JSON.parse(readFileSync(path, 'utf8')) as typeof raw;
    } catch (err) {
      throw new Error(
        `${path}: not a readable answer-store manifest (${(err as Error).message}); delete the folder to write the answers again`,
      );
    }
    if (raw.format !== ANSWER_STORE_FORMAT || raw.version !== ANSWER_STORE_VERSION) {
      throw new Error(
        `${path}: not an answer store of version ${ANSWER_STORE_VERSION} (format ${String(raw.format)}, version ${String(raw.version)})`,
      );
    }
    const parsed = manifestSchema.safeParse(raw);
    if (!parsed.success) {
      throw new Error(
        `${path}: not a valid answer-store manifest (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}); delete the folder to write the answers again`,
      );
    }
    const store = new AnswerStore(dir, parsed.data);
    store.load();
    return store;
  }

  private load(): void {
    const size = statSync(this.recordsPath).size;
    if (size < this.manifest.bytes)
      throw new Error(
        `${this.recordsPath}: holds ${size} bytes, fewer than the ${this.manifest.bytes} committed; the store is damaged; delete it to write the answers again`,
      );
    const corrupt = (line: number, at: number, what: string) =>
      new Error(
        `${this.recordsPath}:${line}: a committed record ${what}; the store is corrupt from byte ${at} on; delete it to write the answers again`,
      );
    for (const { line, at, bytes } of committedLines(this.recordsPath, this.manifest.bytes)) {
      let r: { id?: unknown; answers?: unknown; sha256?: unknown };
      try {
        r = JSON.parse(utf8.decode(bytes)) as typeof r;
      } catch {
        throw corrupt(line, at, 'is not UTF-8 JSON');
      }
      if (
        typeof r.id !== 'string' ||
        !Array.isArray(r.answers) ||
        r.sha256 !== checksum(r.id, r.answers as StoredAnswer[])
      )
        throw corrupt(line, at, 'fails its checksum');
      if (this.answers.has(r.id)) throw corrupt(line, at, `repeats prompt '${r.id}'`);
      this.answers.set(r.id, r.answers as StoredAnswer[]);
    }
    if (this.answers.size !== this.manifest.count) {
      throw new Error(
        `${this.recordsPath}: ${this.answers.size} committed records, the manifest says ${this.manifest.count}; the store is damaged; delete it to write the answers again`,
      );
    }
  }

  get size(): number {
    return this.answers.size;
  }

  has(id: string): boolean {
    return this.answers.has(id);
  }

  get(id: string): StoredAnswer[] | undefined {
    return this.answers.get(id);
  }

  *entries(): Iterable<[string, StoredAnswer[]]> {
    yield* this.answers;
  }

  /** Adds a prompt's answers; they are durable after the next commit(). */
  append(id: string, answers: StoredAnswer[]): void {
    if (this.answers.has(id))
      throw new Error(`answer store ${this.dir}: prompt '${id}' already has answers; each prompt is written once`);
    this.answers.set(id, answers);
    this.pending.push(`${JSON.stringify({ id, answers, sha256: checksum(id, answers) })}\n`);
  }

  /** Writes and fsyncs the appended records, then advances the manifest atomically. */
  commit(): void {
    if (this.pending.length === 0) return;
    const data = this.pending.join('');
    const bytes = Buffer.from(data);
    // Written at the committed length, not appended: bytes a failed write left behind are overwritten and cut.
    const fd = openSync(this.recordsPath, 'r+');
    try {
      if (fstatSync(fd).size !== this.manifest.bytes) ftruncateSync(fd, this.manifest.bytes);
      for (let done = 0; done < bytes.length; )
        done += writeSync(fd, bytes, done, bytes.length - done, this.manifest.bytes + done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.manifest = {
      ...this.manifest,
      count: this.manifest.count + this.pending.length,
      bytes: this.manifest.bytes + bytes.length,
    };
    this.pending = [];
    this.writeManifest();
  }

  private writeManifest(): void {
    atomicWriteFile(this.manifestPath, `${JSON.stringify(this.manifest, null, 2)}\n`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The lines of the first `end` bytes of a file, as bytes, read in 1 MiB chunks: memory stays
 * bounded by the longest line, and nothing past `end` (an uncommitted, possibly torn tail) is
 * decoded, so a tail cut inside a character cannot fail the read.
 */
function* committedLines(path: string, end: number): Generator<{ line: number; at: number; bytes: Buffer }> {
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let carry = Buffer.alloc(0);
    let pos = 0,
      line = 0,
      at = 0;
    while (pos < end) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, end - pos), pos);
      if (n === 0) break;
      pos += n;
      let buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let nl: number;
      while ((nl = buf.indexOf(0x0a)) >= 0) {
        yield { line: ++line, at, bytes: buf.subarray(0, nl) };
        at += nl + 1;
        buf = buf.subarray(nl + 1);
      }
      carry = Buffer.from(buf);
    }
    if (carry.length)
      throw new Error(
        `${path}:${line + 1} (byte ${at}): the committed bytes end inside a record; the store is corrupt; delete it to write the answers again`,
      );
  } finally {
    closeSync(fd);
  }
}
