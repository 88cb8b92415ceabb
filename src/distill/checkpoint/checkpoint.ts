// Training checkpoints: a folder `ckpt-{step}/` holding the parameters (model.safetensors, Hugging
// Face names, so the folder loads as a model), the optimizer state (optimizer.safetensors) and
// manifest.json (step, data cursor, trainer state, config hash, best metric, sha256 of each file).
//
// Saving is atomic: everything is written into a hidden temp folder beside the others, each file
// fsynced, the manifest last; the folder is renamed into place and only then is the `latest` pointer
// file replaced (itself atomically). A crash at any point leaves `latest` naming a complete checkpoint.
// Loading checks every file's size and sha256 against the manifest before reading a tensor, so a
// truncated or altered file is refused whole, never half-loaded.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { atomicWriteFile, syncFolder } from '../../io/atomic-write.ts';
import { readSafetensors, writeSafetensors, type Tensor as StTensor } from '../../models/checkpoint/safetensors.ts';
import type { DType } from '../../graph/index.ts';
import type { HostTensor } from '../../runtime/index.ts';
import { sha256File } from './hash.ts';
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  manifestSchema,
  type EvalMark,
  type Json,
  type Manifest,
} from './manifest.ts';

export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const MANIFEST_FILE = 'manifest.json';
export const LATEST_FILE = 'latest';
export const BEST_FILE = 'best';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
  /** The file (or folder) at fault. */
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

export interface CheckpointContents {
  /** Optimizer steps completed. */
  step: number;
  /** Parameter values by Hugging Face name. */
  params: ReadonlyMap<string, HostTensor>;
  /** Optimizer slots by `${slot}.${param}` (TrainStep's naming). */
  opt: ReadonlyMap<string, HostTensor>;
  /** Optimizer settings, kept in optimizer.safetensors' metadata so state is never loaded into another optimizer. */
  optimizer: Json;
  cursor: Json;
  trainer: Json;
  configHash: string;
  metric: EvalMark | null;
  best: EvalMark | null;
  /** More files for the folder, checksummed like the rest (config.json, tokenizer.json, ...). */
  extraFiles?: Readonly<Record<string, string | Uint8Array>>;
}

export interface SaveOptions {
  /** Keep this many most recent checkpoints (plus the best one); older ones are deleted. 0 keeps all. */
  keep: number;
  /** Point the `best` file at this checkpoint. */
  isBest?: boolean;
}

export interface LoadedCheckpoint {
  path: string;
  manifest: Manifest;
  params: Map<string, HostTensor>;
  opt: Map<string, HostTensor>;
  /** The optimizer settings saved with the state. */
  optimizer: Json;
}

// ------------------------------------------------------------------ dtype mapping
const TO_ST = { float32: 'F32', float64: 'F64', int64: 'I64', int32: 'I32', bool: 'BOOL' } as const satisfies Record<
  DType,
  StTensor['dtype']
>;
const FROM_ST: Partial<Record<StTensor['dtype'], DType>> = Object.fromEntries(
  Object.entries(TO_ST).map(([k, v]) => [v, k as DType]),
);

function toSafetensors(values: ReadonlyMap<string, HostTensor>): Map<string, StTensor> {
  const out = new Map<string, StTensor>();
  for (const [name, t] of values)
    out.set(name, { dtype: TO_ST[t.dtype], shape: [...t.shape], data: t.data } as StTensor);
  return out;
}

function fromSafetensors(file: string, tensors: Map<string, StTensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of tensors) {
    const dtype = FROM_ST[t.dtype];
    if (!dtype)
      throw new CheckpointError(
        file,
        `tensor '${name}' has dtype ${t.dtype}; training state must be one of ${Object.values(TO_ST).join(', ')}`,
      );
    out.set(name, { dtype, shape: [...t.shape], data: t.data as HostTensor['data'] });
  }
  return out;
}

// ------------------------------------------------------------------ folders and pointers
export const checkpointName = (step: number): string => `ckpt-${step}`;
const NAME_RE = /^ckpt-(\d+)$/;

/** The checkpoints under `root`, oldest first (folders named ckpt-{step}; temp folders are skipped). */
export function listCheckpoints(root: string): { step: number; path: string }[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => ({ m: NAME_RE.exec(name), name }))
    .filter(({ m, name }) => m && statSync(join(root, name)).isDirectory())
    .map(({ m, name }) => ({ step: Number(m![1]), path: join(root, name) }))
    .sort((a, b) => a.step - b.step);
}

function readPointer(root: string, file: string): string | undefined {
  const p = join(root, file);
  if (!existsSync(p)) return undefined;
  const name = readFileSync(p, 'utf8').trim();
  if (!NAME_RE.test(name))
    throw new CheckpointError(
      p,
      `expected the name of a checkpoint folder (ckpt-{step}), found ${JSON.stringify(name.slice(0, 80))}; delete the file and pass the checkpoint folder explicitly`,
    );
  return join(root, name);
}

/**
 * The checkpoint folder to resume from: `pathOrRoot` itself when it is a checkpoint (has a manifest),
 * else the one its `latest` (or `best`) pointer names. undefined when the root has no checkpoint yet.
 */
export function resolveCheckpoint(pathOrRoot: string, which: 'latest' | 'best' = 'latest'): string | undefined {
  if (existsSync(join(pathOrRoot, MANIFEST_FILE))) return pathOrRoot;
  const target = readPointer(pathOrRoot, which === 'latest' ? LATEST_FILE : BEST_FILE);
  if (target === undefined) return undefined;
  if (!existsSync(target)) {
    throw new CheckpointError(
      join(pathOrRoot, which),
      `names ${basename(target)}, which does not exist; ${otherCheckpoints(pathOrRoot, target)}`,
    );
  }
  return target;
}

function otherCheckpoints(root: string, except: string): string {
  const others = listCheckpoints(root).filter((c) => resolve(c.path) !== resolve(except));
  if (others.length === 0) return 'no other checkpoint is there; start the run again';
  return `other checkpoints there: ${others.map((c) => basename(c.path)).join(', ')}; resume from one of them by passing its folder`;
}

// ------------------------------------------------------------------ save
/** Writes `ckpt-{step}` under `root` atomically, moves `latest` to it, and prunes old checkpoints. Returns its path. */
export function saveCheckpoint(root: string, c: CheckpointContents, o: SaveOptions): string {
  mkdirSync(root, { recursive: true });
  for (const name of readdirSync(root))
    if (name.startsWith('.ckpt-') && name.endsWith('.tmp')) rmSync(join(root, name), { recursive: true, force: true });
  const final = join(root, checkpointName(c.step));
  const tmp = join(root, `.${checkpointName(c.step)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  mkdirSync(tmp);
  try {
    writeSafetensors(join(tmp, MODEL_FILE), toSafetensors(c.params), { format: 'pt' });
    writeSafetensors(join(tmp, OPTIMIZER_FILE), toSafetensors(c.opt), {
      format: 'retort',
      optimizer: JSON.stringify(c.optimizer),
      step: String(c.step),
    });
    for (const [name, data] of Object.entries(c.extraFiles ?? {})) {
      if (name === MANIFEST_FILE || name.includes('/') || name.includes('\\'))
        throw new Error(
          `saveCheckpoint: extra file name '${name}' must be a plain file name other than ${MANIFEST_FILE}`,
        );
      atomicWriteFile(join(tmp, name), data);
    }
    // Checksums of the bytes as they are on disk, read back after the fsync.
    const files: Manifest['files'] = {};
    for (const name of [MODEL_FILE, OPTIMIZER_FILE, ...Object.keys(c.extraFiles ?? {})])
      files[name] = sha256File(join(tmp, name));
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      step: c.step,
      time: new Date().toISOString(),
      configHash: c.configHash,
      cursor: c.cursor,
      trainer: c.trainer,
      metric: c.metric,
      best: c.best,
      files,
    };
    atomicWriteFile(join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    syncFolder(tmp);
    if (existsSync(final)) {
      // Saving a step again (a resume from an earlier checkpoint passes this step anew): swap, then drop the old one.
      const old = `${tmp}.old`;
      renameSync(final, old);
      renameSync(tmp, final);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, final);
    }
    syncFolder(root);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  atomicWriteFile(join(root, LATEST_FILE), `${checkpointName(c.step)}\n`);
  if (o.isBest) atomicWriteFile(join(root, BEST_FILE), `${checkpointName(c.step)}\n`);
  pruneCheckpoints(root, o.keep);
  return final;
}

/** Deletes all but the `keep` most recent checkpoints, never the ones `latest` and `best` name. Returns what was deleted. */
export function pruneCheckpoints(root: string, keep: number): string[] {
  if (keep <= 0) return [];
  const all = listCheckpoints(root);
  const protect = new Set<string>();
  for (const f of [LATEST_FILE, BEST_FILE]) {
    try {
      const p = readPointer(root, f);
      if (p) protect.add(resolve(p));
    } catch {
      // A bad pointer protects nothing; it is reported when someone resumes through it.
    }
  }
  const removed: string[] = [];
  for (const c of all.slice(0, Math.max(0, all.length - keep))) {
    if (protect.has(resolve(c.path))) continue;
    rmSync(c.path, { recursive: true, force: true });
    removed.push(c.path);
  }
  return removed;
}

// ------------------------------------------------------------------ load
function readManifest(dir: string): Manifest {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(dir)) throw new CheckpointError(dir, 'no such checkpoint folder');
  if (!existsSync(file)) {
    throw new CheckpointError(
      file,
      `missing: this folder is not a complete checkpoint (the manifest is written last); ${otherCheckpoints(dirname(dir), dir)}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CheckpointError(
      file,
      `is not valid JSON (${(err as Error).message}); the checkpoint is corrupt; ${otherCheckpoints(dirname(dir), dir)}`,
    );
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CheckpointError(
      file,
      `field ${issue.path.join('.') || '(root)'}: ${issue.message}; this is not a Retort training checkpoint manifest (format ${MANIFEST_FORMAT} v${MANIFEST_VERSION}) or it is corrupt`,
    );
  }
  return parsed.data;
}

/** Checks each file of the manifest against its recorded size and sha256. */
function verifyFiles(dir: string, manifest: Manifest): void {
  for (const required of [MODEL_FILE, OPTIMIZER_FILE]) {
    if (!manifest.files[required])
      throw new CheckpointError(join(dir, MANIFEST_FILE), `lists no ${required}; the checkpoint is incomplete`);
  }
  for (const [name, want] of Object.entries(manifest.files)) {
    const file = join(dir, name);
    const advice = `it cannot be trusted; ${otherCheckpoints(dirname(dir), dir)}`;
    if (!existsSync(file)) throw new CheckpointError(file, `missing, though the manifest lists it; ${advice}`);
    const got = sha256File(file);
    if (got.bytes !== want.bytes) {
      throw new CheckpointError(
        file,
        `is ${got.bytes} bytes but the manifest recorded ${want.bytes}: the file is ${got.bytes < want.bytes ? 'truncated' : 'longer than written'}; ${advice}`,
      );
    }
    if (got.sha256 !== want.sha256) {
      throw new CheckpointError(
        file,
        `sha256 ${got.sha256.slice(0, 16)}… does not match the manifest's ${want.sha256.slice(0, 16)}…: the file is corrupt or was changed after the save; ${advice}`,
      );
    }
  }
}

/** Reads and verifies a checkpoint folder; throws CheckpointError naming the file at fault, before anything is returned. */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const manifest = readManifest(dir);
  verifyFiles(dir, manifest);
  const read = (name: string) => {
    const file = join(dir, name);
    try {
      return readSafetensors(file);
    } catch (err) {
      throw new CheckpointError(file, (err as Error).message);
    }
  };
  const model = read(MODEL_FILE),
    optim = read(OPTIMIZER_FILE);
  let optimizer: Json = null;
  try {
    optimizer = JSON.parse(optim.metadata.optimizer ?? 'null') as Json;
  } catch {
    throw new CheckpointError(
      join(dir, OPTIMIZER_FILE),
      'metadata "optimizer" is not JSON; the file was not written by Retort',
    );
  }
  return {
    path: dir,
    manifest,
    params: fromSafetensors(join(dir, MODEL_FILE), model.tensors),
    opt: fromSafetensors(join(dir, OPTIMIZER_FILE), optim.tensors),
    optimizer,
  };
}
