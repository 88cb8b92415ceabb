// What the server runs: a Retort model in this process (a Hugging Face folder or a Retort
// checkpoint) or an ONNX decoder file. Both give the same two things: full logits over a prompt
// (echo / prompt scoring) and a Stepper for generation (src/generate's seam).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { resolveCheckpoint } from '../distill/checkpoint/index.ts';
import { CachedStepper, ModelRunner, roundCapacity, SlotLayout, type Stepper } from '../generate/index.ts';
import { loadHfModel } from '../models/hf/index.ts';
import { loadHfTokenizer } from '../models/tokenizers/hf-tokenizer.ts';
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import type { DecoderModel } from '../models/types.ts';
import { hostTensor, type ParamStore } from '../runtime/index.ts';
import { LocalTeacher } from '../teachers/local.ts';
import { OnnxTeacher } from '../teachers/onnx/index.ts';
import type { Teacher } from '../teachers/teacher.ts';
import { Batcher, PREFILL_QUANTUM } from './batcher.ts';
import { OnnxStepper } from './onnx-stepper.ts';

export interface ServeBackend {
  readonly kind: 'retort' | 'onnx';
  /** The model id clients name in requests. */
  readonly name: string;
  readonly vocabSize: number;
  /** Longest prompt + completion, in tokens (Infinity when the model has no limit). */
  readonly maxPositions: number;
  /** Tokens that end a completion. */
  readonly eosIds: readonly number[];
  /** Fed in padding slots (never attended to). */
  readonly padId: number;
  readonly tokenizer?: Tokenizer;
  /** The teacher that scores prompts (also usable in-process). */
  readonly teacher: Teacher;
  /** Logits at every position of one prompt: (T, V) row-major. */
  scorePrompt(ids: readonly number[]): Promise<Float32Array>;
  /** A stepper over these prompts with room for maxNew new tokens (maxNew >= 1). */
  stepper(prompts: readonly (readonly number[])[], maxNew: number): Stepper;
  /** Continuous batching (Retort models): every request's rows decode together, one run per token. */
  readonly batcher?: Batcher;
}

function eosList(...xs: unknown[]): number[] {
  const out = new Set<number>();
  for (const x of xs) for (const v of [x].flat()) if (typeof v === 'number' && Number.isInteger(v)) out.add(v);
  return [...out];
}

async function scoreWith(teacher: Teacher, ids: readonly number[]): Promise<Float32Array> {
  const res = await teacher.score({ ids: hostTensor('int64', [1, ids.length], ids), logits: true });
  return res.logits!.data as Float32Array;
}

/** Prompt lengths a Retort backend compiles scoring programs for are multiples of this. */
export const SCORE_BUCKET = 32;

export interface RetortBackendOptions {
  name: string;
  model: DecoderModel;
  params: ParamStore;
  tokenizer?: Tokenizer;
  threads?: number;
  /** Rows decoded together by continuous batching; 0 or absent: each request decodes on its own. */
  batchRows?: number;
}

/** Cache slots per batched row when the model's context is longer (or unbounded): bounds the cache's memory. */
export const MAX_BATCH_CONTEXT = 2048;

/** A Retort decoder in this process: prompt scoring through LocalTeacher, generation through src/generate's KV cache. */
export function retortBackend(o: RetortBackendOptions): ServeBackend {
  const { model, params } = o;
  // Requests decode side by side and the process serves HTTP between steps: spinning pool threads
  // would take those cores (measured: generate at 8 and 32 clients 100/104 req/s sleeping, 87/73 spinning).
  const runner = new ModelRunner(model, params.values, { threads: o.threads, spinDecode: false });
  const teacher = new LocalTeacher(o.name, model, params, o.tokenizer);
  const limit = model.config.maxPositions ?? Infinity;
  const padId = o.tokenizer?.padId ?? o.tokenizer?.eosId ?? 0;
  return {
    kind: 'retort',
    name: o.name,
    vocabSize: model.config.vocabSize,
    maxPositions: limit,
    eosIds: eosList(model.config.eosTokenId, o.tokenizer?.eosId),
    padId,
    tokenizer: o.tokenizer,
    teacher,
    // Right-padded to a multiple of SCORE_BUCKET: causal attention keeps the padding out of every
    // real position's logits, and one compiled program then serves a range of prompt lengths.
    async scorePrompt(ids) {
      const len = Math.min(
        Math.ceil(ids.length / SCORE_BUCKET) * SCORE_BUCKET,
        Number.isFinite(limit) ? limit : Infinity,
      );
      const padded = len > ids.length ? [...ids, ...new Array<number>(len - ids.length).fill(padId)] : ids;
      return (await scoreWith(teacher, padded)).subarray(0, ids.length * model.config.vocabSize);
    },
    stepper(prompts, maxNew) {
      const layout = new SlotLayout(prompts, padId);
      // The last new token is never fed back; a decode step attends over the cache plus the new token.
      return new CachedStepper(runner, layout, roundCapacity(layout.promptSlots + maxNew - 1, limit - 1));
    },
    ...(o.batchRows
      ? {
          // A row holds its prompt (rounded up to the prefill quantum where there is room) and every new
          // token but the last; a decode step attends over capacity + 1 slots, within the model's positions.
          batcher: new Batcher(runner, {
            maxRows: o.batchRows,
            capacity: Math.min(roundCapacity(Math.min(limit, MAX_BATCH_CONTEXT) + PREFILL_QUANTUM - 1), limit - 1),
            padId,
            vocabSize: model.config.vocabSize,
            tokenizer: o.tokenizer,
          }),
        }
      : {}),
  };
}

export interface OnnxBackendOptions {
  /** Default: the file's folder name (or the file name). */
  name?: string;
  tokenizer?: Tokenizer | string | null;
  threads?: number;
}

/** An ONNX decoder file; config.json / generation_config.json / tokenizer files are read from its folder when present. */
export async function onnxBackend(path: string, o: OnnxBackendOptions = {}): Promise<ServeBackend> {
  const teacher = await OnnxTeacher.load(path, { tokenizer: o.tokenizer, threads: o.threads, hidden: [] });
  if (teacher.task !== 'causal-lm')
    throw new Error(`serve: ${path} is a classifier (logits (B, C)); serve needs a decoder whose logits are (B, T, V)`);
  const cfg = teacher.config ?? {};
  const dir = join(path, '..');
  const gen = [join(dir, 'generation_config.json'), join(dir, '..', 'generation_config.json')].find(existsSync);
  const genCfg = gen ? (JSON.parse(readFileSync(gen, 'utf8')) as Record<string, unknown>) : {};
  const tok = teacher.tokenizer;
  const limit = Number(
    cfg.max_position_embeddings ??
      cfg.n_positions ??
      (tok as { config?: { model_max_length?: number } } | undefined)?.config?.model_max_length ??
      Infinity,
  );
  const padId = tok?.padId ?? tok?.eosId ?? 0;
  return {
    kind: 'onnx',
    name: o.name ?? basename(path).replace(/\.onnx$/, ''),
    vocabSize: teacher.info.vocabSize,
    maxPositions: Number.isFinite(limit) && limit > 0 && limit < 1e7 ? limit : Infinity,
    eosIds: eosList(genCfg.eos_token_id, cfg.eos_token_id, tok?.eosId),
    padId,
    tokenizer: tok,
    teacher,
    scorePrompt: (ids) => scoreWith(teacher, ids),
    stepper: (prompts) => new OnnxStepper(teacher.session, prompts, padId),
  };
}

/**
 * A backend from a path: an .onnx file (or a folder with onnx/model.onnx and no safetensors), a
 * Retort checkpoint (its folder or the run folder with `latest`), or a Hugging Face model folder.
 */
export async function loadBackend(
  path: string,
  o: { name?: string; tokenizer?: string; threads?: number; batchRows?: number } = {},
): Promise<ServeBackend> {
  if (!existsSync(path))
    throw new Error(
      `serve: ${path} does not exist; pass a Hugging Face model folder, a Retort checkpoint or an .onnx file`,
    );
  if (!statSync(path).isDirectory()) {
    if (path.endsWith('.onnx')) return onnxBackend(path, o);
    throw new Error(`serve: ${path} is a file but not .onnx; pass a model folder or an .onnx file`);
  }
  const hasWeights =
    existsSync(join(path, 'model.safetensors')) || existsSync(join(path, 'model.safetensors.index.json'));
  if (!hasWeights && existsSync(join(path, 'onnx', 'model.onnx')))
    return onnxBackend(join(path, 'onnx', 'model.onnx'), { ...o, name: o.name ?? basename(path) });
  const dir = resolveCheckpoint(path) ?? path;
  const loaded = loadHfModel(dir);
  if (loaded.task !== 'causal-lm')
    throw new Error(`serve: ${dir} holds a sequence classifier; serve needs a causal language model`);
  const tokDir = o.tokenizer ?? [dir, path].find((d) => existsSync(join(d, 'tokenizer.json')));
  const tokenizer = tokDir ? loadHfTokenizer(tokDir) : undefined;
  // models/hf's DecoderModel type omits nHeads; every family's model has it (LocalTeacher reads it).
  return retortBackend({
    name: o.name ?? basename(path),
    model: loaded.model as unknown as DecoderModel,
    params: loaded.params,
    tokenizer,
    threads: o.threads,
    batchRows: o.batchRows,
  });
}
