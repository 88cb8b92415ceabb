// Where a run config's teacher comes from: `source: {kind: retort | onnx | http, ...}`. Each kind is
// a strict schema listing exactly the options its loader takes (OnnxTeacher.load, HttpTeacher), so a
// misspelled option is refused with a "did you mean" when the config is loaded, not after the corpus
// is tokenized. The type checks below fail to compile when a field here is not one of the loader's.
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import type { Executor } from '../../runtime/index.ts';
import { HttpTeacher, type HttpTeacherOptions } from '../../teachers/http/index.ts';
import { OnnxTeacher, type OnnxTeacherOptions } from '../../teachers/onnx/index.ts';
import type { Teacher } from '../../teachers/teacher.ts';
import { doc, nonNegInt, posInt } from './fields.ts';

const retortSourceSchema = z
  .object({
    kind: doc(z.literal('retort'), 'A Hugging Face model folder Retort loads itself (GPT-2, Llama, Qwen2, Mistral)'),
    hfDir: doc(z.string().min(1), 'Folder with config.json and model.safetensors', 'models/teacher'),
  })
  .strict();

const onnxSourceSchema = z
  .object({
    kind: doc(z.literal('onnx'), 'An ONNX file (transformers.js / onnx-community layout), scored by onnxruntime'),
    path: doc(z.string().min(1), 'The .onnx file', 'models/teacher/onnx/model.onnx'),
    tokenizer: doc(
      z.string().min(1).optional(),
      "A tokenizer.json file, or a folder holding one; default the run's tokenizer (data.tokenizer)",
      'models/teacher',
    ),
    hidden: doc(
      z.union([z.literal('auto'), z.array(z.string().min(1))]).optional(),
      "Hidden states by index (0: the embedding output): the graph's value names, or 'auto' (the default) for the residual stream of a pre-norm decoder",
      'auto',
    ),
    attentions: doc(
      z.array(z.string().min(1)).optional(),
      "Attention maps by layer: the graph's value names (each layer's Softmax output)",
      ['/h.0/attn/Softmax_output_0'],
    ),
    logitsName: doc(z.string().min(1).optional(), "The graph output holding the logits; default 'logits'", 'logits'),
    config: doc(
      z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
      "The model's config.json: a path, or its fields; default the config.json beside the file or in its parent folder",
      'models/teacher/config.json',
    ),
    threads: doc(posInt().optional(), "onnxruntime threads of the teacher's session", 4),
  })
  .strict();

const httpSourceSchema = z
  .object({
    kind: doc(
      z.literal('http'),
      'An OpenAI-compatible API (vLLM, OpenAI, retort serve); the key comes from RETORT_API_KEY, OPENAI_API_KEY or credentialsFile',
    ),
    baseUrl: doc(
      z.string().regex(/^https?:\/\/\S+$/, { error: 'an http:// or https:// address' }),
      'The API root',
      'http://127.0.0.1:8000/v1',
    ),
    model: doc(z.string().min(1), 'The model name the API serves', 'Qwen/Qwen2.5-7B-Instruct'),
    tokenIds: doc(
      z.boolean().optional(),
      'Send prompts as token ids (vLLM, retort serve); false for APIs that take text only (OpenAI). Default true',
      true,
    ),
    vocabSize: doc(posInt().optional(), "The teacher's vocabulary size; default the tokenizer's", 151936),
    version: doc(
      z.string().min(1).optional(),
      'Names the weights behind the API: part of the fingerprint and of every cache key',
      '2025-01',
    ),
    concurrency: doc(posInt().optional(), 'Requests in flight at once (default 4)', 8),
    maxRetries: doc(nonNegInt().optional(), 'Retries after the first try (default 6)', 6),
    retryBaseMs: doc(
      z.number().positive().optional(),
      'Backoff: the n-th retry waits up to min(retryMaxMs, retryBaseMs·2^n) ms (default 500)',
      500,
    ),
    retryMaxMs: doc(z.number().positive().optional(), 'Longest backoff between retries, in ms (default 30000)', 30000),
    maxRetryAfterMs: doc(
      z.number().nonnegative().optional(),
      'Longest Retry-After honoured, in ms (default 120000)',
      120000,
    ),
    timeoutMs: doc(z.number().positive().optional(), "One try's deadline, in ms (default 120000)", 120000),
    budget: doc(
      z
        .object({
          maxRequests: doc(posInt().optional(), 'Most requests sent over the network (cache hits are free)', 10000),
          maxTokens: doc(posInt().optional(), 'Most tokens billed', 5000000),
        })
        .strict()
        .optional(),
      'Limits past which no request is sent; answers already cached still serve',
      { maxRequests: 10000 },
    ),
    cacheDir: doc(
      z.string().min(1).optional(),
      'Folder of the response cache, so a rerun does not pay twice; none when absent',
      'runs/http-cache',
    ),
    credentialsFile: doc(
      z.string().min(1).optional(),
      'A JSON file with {"api_key": "..."}, read when neither RETORT_API_KEY nor OPENAI_API_KEY is set',
      'secrets/api.json',
    ),
  })
  .strict();

export const teacherSourceSchema = z.discriminatedUnion('kind', [
  retortSourceSchema,
  onnxSourceSchema,
  httpSourceSchema,
]);
export type TeacherSource = z.output<typeof teacherSourceSchema>;

// A field here that the loader does not take, or takes with another type, is a compile error.
type Fields<S extends z.ZodType, Own extends string> = Omit<z.output<S>, 'kind' | Own>;
type Extra<F, O> = Exclude<keyof F, keyof O>;
const onnxFits: [Extra<Fields<typeof onnxSourceSchema, 'path'>, OnnxTeacherOptions>] extends [never] ? true : never =
  true;
const httpFits: [Extra<Fields<typeof httpSourceSchema, never>, HttpTeacherOptions>] extends [never] ? true : never =
  true;
void [
  onnxFits,
  httpFits,
  (f: Fields<typeof onnxSourceSchema, 'path'>): OnnxTeacherOptions => f,
  (f: Fields<typeof httpSourceSchema, never>): HttpTeacherOptions => f,
];

/** The fields of each kind that hold paths: relative ones start at the config file's folder. */
const PATH_FIELDS = {
  retort: ['hfDir'],
  onnx: ['path', 'tokenizer', 'config'],
  http: ['cacheDir', 'credentialsFile'],
} as const satisfies { [K in TeacherSource['kind']]: readonly (keyof Extract<TeacherSource, { kind: K }>)[] };

/** The source with its relative paths resolved against `baseDir`. */
export function resolveSourcePaths<S extends TeacherSource>(source: S, baseDir: string): S {
  const out: Record<string, unknown> = { ...source };
  for (const f of PATH_FIELDS[source.kind]) {
    const v = out[f];
    if (typeof v === 'string' && !isAbsolute(v)) out[f] = resolve(baseDir, v);
  }
  return out as S;
}

/** Builds a teacher from its config entry's source (paths already resolved). */
export type TeacherResolver = (
  source: Record<string, unknown>,
  o: { name: string; tokenizer?: Tokenizer; executor?: Executor; baseDir: string },
) => Teacher | Promise<Teacher>;

/** The loaders of the teachers that are not Retort models: a source's fields are its loader's options. */
export const teacherResolvers: Record<'onnx' | 'http', TeacherResolver> = {
  onnx: (src, o) => {
    const { kind: _k, path, ...rest } = src as Extract<TeacherSource, { kind: 'onnx' }>;
    return OnnxTeacher.load(path, { tokenizer: o.tokenizer, ...rest });
  },
  http: (src, o) => {
    const { kind: _k, ...rest } = src as Extract<TeacherSource, { kind: 'http' }>;
    return new HttpTeacher({ name: o.name, tokenizer: o.tokenizer, ...rest } as HttpTeacherOptions);
  },
};
