// A generated set on disk, written as it grows so a rerun continues instead of starting over:
//
//   manifest.json    {format, version, identity, kept, attempts, dropped: {exact, near}, complete}
//   examples.jsonl   one kept example per line: {"i": attempt, "text": ..., "prompt"?: ..., "label"?: ...}
//
// Lines are appended and fsync'd before the manifest (replaced atomically) counts them; lines past
// the manifest's `kept` (written by a process that died before committing) are cut off on reopen.
// A set made for another teacher, dataset or generation settings is refused.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFile } from '../../../io/atomic-write.ts';
import { canonicalJson, type Json } from '../../checkpoint/index.ts';

export interface GeneratedExample {
  /** The attempt that made it (its seed and prompt follow from it). */
  i: number;
  /** The generated text (what is deduplicated). */
  text: string;
  /** The prompt it continues, if any (LM augmentation trains on prompt + text). */
  prompt?: string;
  /** Class label (classifier augmentation). */
  label?: number;
  /** The labelling teacher's class probabilities, when a classifier labelled it. */
  probs?: number[];
}

export interface GeneratedManifest {
  format: 'retort-augment';
  version: 1;
  /** Teacher fingerprint, data hash and generation settings: a set is only reused for the same. */
  identity: Json;
  kept: number;
  /** Attempts made so far: the next attempt's index. */
  attempts: number;
  dropped: { exact: number; near: number };
  /** Whether `kept` reached the requested count (or attempts ran out). */
  complete: boolean;
}

export const MANIFEST = 'manifest.json';
export const EXAMPLES = 'examples.jsonl';

export class GeneratedSet {
  private constructor(
    readonly dir: string,
    public manifest: GeneratedManifest,
    readonly examples: GeneratedExample[],
  ) {}

  /** Opens the set in `dir` (made if absent), refusing one of another identity. */
  static open(dir: string, identity: Json): GeneratedSet {
    const mpath = join(dir, MANIFEST),
      epath = join(dir, EXAMPLES);
    if (!existsSync(mpath)) {
      mkdirSync(dir, { recursive: true });
      const manifest: GeneratedManifest = {
        format: 'retort-augment',
        version: 1,
        identity,
        kept: 0,
        attempts: 0,
        dropped: { exact: 0, near: 0 },
        complete: false,
      };
      truncateOrCreate(epath);
      atomicWriteFile(mpath, `${JSON.stringify(manifest, null, 2)}\n`);
      return new GeneratedSet(dir, manifest, []);
    }
    const manifest = JSON.parse(readFileSync(mpath, 'utf8')) as GeneratedManifest;
    if (manifest.format !== 'retort-augment' || manifest.version !== 1)
      throw new Error(
        `${mpath}: not a generated set of version 1 (format ${manifest.format}, version ${manifest.version})`,
      );
    if (canonicalJson(manifest.identity) !== canonicalJson(identity)) {
      const a = manifest.identity as Record<string, Json>,
        b = identity as Record<string, Json>;
      const diff = Object.keys({ ...a, ...b }).filter(
        (k) => canonicalJson(a[k] ?? null) !== canonicalJson(b[k] ?? null),
      );
      throw new Error(
        `${dir}: holds examples generated with another ${diff.join(', ') || 'identity'} (${diff.map((k) => `${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])}`).join('; ')}); use another folder, or delete it to generate again`,
      );
    }
    // Keep the committed lines; cut a tail a crashed run wrote but did not count.
    const bytes = existsSync(epath) ? readFileSync(epath) : Buffer.alloc(0);
    const examples: GeneratedExample[] = [];
    let offset = 0;
    while (examples.length < manifest.kept) {
      const end = bytes.indexOf(0x0a, offset);
      if (end < 0)
        throw new Error(
          `${epath}: holds ${examples.length} complete lines but the manifest counts ${manifest.kept}; the file was changed by hand? delete the folder to generate again`,
        );
      examples.push(JSON.parse(bytes.subarray(offset, end).toString('utf8')) as GeneratedExample);
      offset = end + 1;
    }
    if (offset < bytes.length) truncateSync(epath, offset);
    return new GeneratedSet(dir, manifest, examples);
  }

  /** Appends kept examples and commits the new counts. */
  commit(
    kept: readonly GeneratedExample[],
    attempts: number,
    dropped: { exact: number; near: number },
    complete: boolean,
  ): void {
    if (kept.length > 0) {
      const fd = openSync(join(this.dir, EXAMPLES), 'a');
      try {
        writeSync(fd, kept.map((e) => `${JSON.stringify(e)}\n`).join(''));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      this.examples.push(...kept);
    }
    this.manifest = { ...this.manifest, kept: this.examples.length, attempts, dropped, complete };
    atomicWriteFile(join(this.dir, MANIFEST), `${JSON.stringify(this.manifest, null, 2)}\n`);
  }
}

function truncateOrCreate(path: string): void {
  closeSync(openSync(path, 'w'));
}
