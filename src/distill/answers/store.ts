// The answer store of sequence-level KD (FORMAT.md beside this file): a teacher's answers to the
// task's prompts, keyed by prompt id, written once and reused. Appends go to answers.jsonl; a
// commit fsyncs them and then atomically advances the manifest's committed length, so a killed run
// loses only uncommitted answers and a rerun writes each prompt once.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, truncateSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readLines } from '../../data/task/index.ts';
import { atomicWriteFile } from '../../models/checkpoint/atomic-write.ts';
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

interface Manifest {
  format: string;
  version: number;
  identity: AnswerIdentity;
  count: number;
  bytes: number;
}

const checksum = (id: string, answers: readonly StoredAnswer[]) => createHash('sha256').update(canonicalJson({ id, answers })).digest('hex');

function identityDiff(want: AnswerIdentity, have: AnswerIdentity): string | undefined {
  if (want.teacher !== have.teacher) return `teacher: the store holds answers of teacher ${have.teacher.slice(0, 16)}…, this run's is ${want.teacher.slice(0, 16)}…`;
  if (want.tokenizer !== have.tokenizer) return `tokenizer: the store was written with vocabulary ${have.tokenizer.slice(0, 16)}…, this run uses ${want.tokenizer.slice(0, 16)}…`;
  const keys = new Set([...Object.keys(want.settings), ...Object.keys(have.settings)]);
  for (const k of keys) {
    if (canonicalJson(want.settings[k] ?? null) !== canonicalJson(have.settings[k] ?? null)) {
      return `settings.${k}: the store's answers were written with ${canonicalJson(have.settings[k] ?? null)}, this run asks for ${canonicalJson(want.settings[k] ?? null)}`;
    }
  }
  return undefined;
}

export class AnswerStore {
  private readonly answers = new Map<string, StoredAnswer[]>();
  private pending: string[] = [];
  private manifest: Manifest;

  private constructor(readonly dir: string, manifest: Manifest) {
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
      const store = new AnswerStore(dir, { format: ANSWER_STORE_FORMAT, version: ANSWER_STORE_VERSION, identity, count: 0, bytes: 0 });
      atomicWriteFile(store.recordsPath, '');
      store.writeManifest();
      return store;
    }
    const store = AnswerStore.read(dir);
    const diff = identityDiff(identity, store.identity);
    if (diff) throw new Error(`${dir}: this answer store belongs to another run (${diff}); use another dir, or delete this one to write the answers again`);
    // A killed writer may have left bytes past the committed length: they are not part of the store.
    if (statSync(store.recordsPath).size > store.manifest.bytes) truncateSync(store.recordsPath, store.manifest.bytes);
    return store;
  }

  /** Opens a store to read it, whatever its identity; every committed record is checked. */
  static read(dir: string): AnswerStore {
    const path = join(dir, 'manifest.json');
    let m: Manifest;
    try {
      m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
    } catch (err) {
      throw new Error(`${path}: not a readable answer-store manifest (${(err as Error).message}); delete the folder to write the answers again`);
    }
    if (m.format !== ANSWER_STORE_FORMAT || m.version !== ANSWER_STORE_VERSION) {
      throw new Error(`${path}: not an answer store of version ${ANSWER_STORE_VERSION} (format ${String(m.format)}, version ${String(m.version)})`);
    }
    const store = new AnswerStore(dir, m);
    store.load();
    return store;
  }

  private load(): void {
    const size = statSync(this.recordsPath).size;
    if (size < this.manifest.bytes) throw new Error(`${this.recordsPath}: holds ${size} bytes, fewer than the ${this.manifest.bytes} committed; the store is damaged; delete it to write the answers again`);
    let bytes = 0;
    for (const { line, text } of readLines(this.recordsPath)) {
      if (bytes >= this.manifest.bytes) break;
      bytes += Buffer.byteLength(text) + 1;
      let r: { id?: unknown; answers?: unknown; sha256?: unknown };
      try {
        r = JSON.parse(text);
      } catch {
        throw new Error(`${this.recordsPath}:${line}: a committed record is not JSON; the store is corrupt; delete it to write the answers again`);
      }
      if (typeof r.id !== 'string' || !Array.isArray(r.answers) || r.sha256 !== checksum(r.id, r.answers as StoredAnswer[])) {
        throw new Error(`${this.recordsPath}:${line}: a committed record fails its checksum; the store is corrupt; delete it to write the answers again`);
      }
      this.answers.set(r.id, r.answers as StoredAnswer[]);
    }
    if (this.answers.size !== this.manifest.count) {
      throw new Error(`${this.recordsPath}: ${this.answers.size} committed records, the manifest says ${this.manifest.count}; the store is damaged; delete it to write the answers again`);
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
    if (this.answers.has(id)) throw new Error(`answer store ${this.dir}: prompt '${id}' already has answers; each prompt is written once`);
    this.answers.set(id, answers);
    this.pending.push(JSON.stringify({ id, answers, sha256: checksum(id, answers) }) + '\n');
  }

  /** Writes and fsyncs the appended records, then advances the manifest atomically. */
  commit(): void {
    if (this.pending.length === 0) return;
    const data = this.pending.join('');
    const fd = openSync(this.recordsPath, 'a');
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.manifest = { ...this.manifest, count: this.manifest.count + this.pending.length, bytes: this.manifest.bytes + Buffer.byteLength(data) };
    this.pending = [];
    this.writeManifest();
  }

  private writeManifest(): void {
    atomicWriteFile(this.manifestPath, JSON.stringify(this.manifest, null, 2) + '\n');
  }
}
