// Any decoder or classifier ONNX file as a teacher (transformers.js / onnx-community names), with
// its tokenizer.json. Top-k log-probs come from a LogSoftmax + TopK tail appended to the graph;
// hidden states and attention maps are intermediate values exposed as extra graph outputs, chosen
// by name or, for hidden states of pre-norm decoders, found by walking the residual stream.
//   const t = await OnnxTeacher.load('model.onnx', { tokenizer: 'tokenizer.json' });
//   const { topk, hidden } = await t.score({ ids, topK: 8, hidden: [0, 2] });
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checkExternalData, decodeModel, readOnnxFile, usesExternalData, type OnnxModel } from '../../onnx/index.ts';
import { loadHfTokenizer } from '../../models/tokenizers/hf-tokenizer.ts';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import { hostTensor, type HostTensor } from '../../runtime/index.ts';
import {
  checkRequest,
  TeacherError,
  type ScoreRequest,
  type ScoreResult,
  type Teacher,
  type TeacherInfo,
  type TopK,
} from '../teacher.ts';
import { hiddenHint, listCandidates, walkResidualStream, type CandidateTensor } from './graph-edit.ts';
import { fromOrt, OnnxSession } from './session.ts';

export interface OnnxTeacherOptions {
  name?: string;
  /** A Tokenizer, or a tokenizer.json path / model folder; default: tokenizer.json beside the file or in its parent folder. */
  tokenizer?: Tokenizer | string | null;
  /**
   * Hidden states by index (0 = embedding output): value names, or 'auto' (the default) for the
   * residual stream of a pre-norm decoder (walkResidualStream). Where the walk fails the teacher
   * still loads, without hidden states; a request for them then fails saying why, with candidates.
   */
  hidden?: readonly string[] | 'auto';
  /** Attention maps by layer: value names (e.g. each layer's Softmax output, from listCandidates(model, ['Softmax'])). */
  attentions?: readonly string[];
  /** Output holding the logits; default 'logits'. */
  logitsName?: string;
  /** config.json (object or path); default: config.json beside the file or in its parent folder. */
  config?: Record<string, unknown> | string;
  threads?: number;
}

/** An OnnxTeacher request may carry the attention mask of a padded batch. */
export interface OnnxScoreRequest extends ScoreRequest {
  /** (B, T) int64, 1 = real token; left or right padding. Default all ones. */
  attentionMask?: HostTensor;
}

/** The folder to look for tokenizer.json / config.json in: the file's own, or its parent for onnx/model.onnx layouts. */
function besideFile(path: string, name: string): string | undefined {
  for (const dir of [dirname(path), dirname(dirname(path))]) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

function tokenizerHash(tok: Tokenizer): string {
  const h = createHash('sha256');
  const json = (tok as { json?: unknown; config?: unknown }).json;
  if (json) h.update(JSON.stringify(json)).update(JSON.stringify((tok as { config?: unknown }).config ?? {}));
  else for (let i = 0; i < tok.vocabSize; i++) h.update(`${tok.idToToken(i) ?? ''}\n`);
  return h.digest('hex');
}

/** Top-k over the last axis in JS (files whose graph could not be edited). */
export function topkFromLogits(logits: HostTensor, k: number): TopK {
  const v = logits.shape.at(-1)!;
  const rows = logits.data.length / v;
  const ids = new BigInt64Array(rows * k),
    lps = new Float32Array(rows * k);
  const x = logits.data as Float32Array;
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * v, (r + 1) * v);
    let max = -Infinity;
    for (const z of row) max = Math.max(max, z);
    let sum = 0;
    for (const z of row) sum += Math.exp(z - max);
    const lse = max + Math.log(sum);
    const order = Array.from(row.keys())
      .sort((a, b) => row[b]! - row[a]! || a - b)
      .slice(0, k);
    order.forEach((id, j) => {
      ids[r * k + j] = BigInt(id);
      lps[r * k + j] = row[id]! - lse;
    });
  }
  const shape = [...logits.shape.slice(0, -1), k];
  return { ids: hostTensor('int64', shape, ids), logprobs: hostTensor('float32', shape, lps) };
}

export class OnnxTeacher implements Teacher {
  readonly kind = 'onnx';
  readonly capabilities;
  readonly unavailable: Teacher['unavailable'];
  readonly info: TeacherInfo;
  /** 'causal-lm' when logits are (B, T, V); 'classifier' when they are (B, C). */
  readonly task: 'causal-lm' | 'classifier';

  private constructor(
    readonly name: string,
    readonly session: OnnxSession,
    readonly fingerprint: string,
    readonly hiddenNames: readonly string[],
    readonly attentionNames: readonly string[],
    readonly tokenizer: Tokenizer | undefined,
    readonly config: Record<string, unknown> | undefined,
    /** Why there are no hidden states and which values to name, when there are none. */
    hiddenMissing: string | undefined,
  ) {
    const rank = session.io.logits.shape?.length;
    this.task = rank === 2 ? 'classifier' : 'causal-lm';
    const last = session.io.logits.shape?.at(-1);
    const vocabSize = typeof last === 'number' ? last : Number(config?.vocab_size ?? tokenizer?.vocabSize ?? NaN);
    if (!Number.isFinite(vocabSize))
      throw new TeacherError(
        `ONNX teacher '${name}': cannot tell the vocabulary size (the logits' last dim is symbolic, and there is no config.json or tokenizer); pass config`,
      );
    this.info = {
      vocabSize,
      ...(hiddenNames.length ? { nLayers: hiddenNames.length - 1 } : {}),
      ...(typeof config?.hidden_size === 'number' || typeof config?.n_embd === 'number'
        ? { dModel: Number(config.hidden_size ?? config.n_embd) }
        : {}),
    };
    this.capabilities = {
      logits: true,
      topK: true,
      hidden: hiddenNames.length > 0,
      attentions: attentionNames.length > 0,
    };
    this.unavailable = {
      ...(hiddenNames.length
        ? {}
        : {
            hidden:
              hiddenMissing ??
              "the teacher was loaded with hidden: []; name the hidden-state values (`source.hidden` in a run config, the `hidden` option of OnnxTeacher.load), or leave it 'auto'",
          }),
      ...(attentionNames.length
        ? {}
        : {
            attentions:
              "name each layer's attention probabilities (its Softmax output; listCandidates(model, ['Softmax']) lists them): `source.attentions: [...]` in a run config, or the `attentions` option of OnnxTeacher.load",
          }),
    };
  }

  static async load(path: string, o: OnnxTeacherOptions = {}): Promise<OnnxTeacher> {
    const bytes = readFileSync(path);
    // The graph alone: weights in a data file beside the .onnx stay there (missing or truncated ones are refused by name).
    let graph: OnnxModel | undefined;
    let undecodable: Error | undefined;
    try {
      graph = decodeModel(bytes, { externalData: 'reference' });
    } catch (err) {
      undecodable = err as Error;
    }
    const external = graph !== undefined && usesExternalData(graph);
    if (external) checkExternalData(path, graph!);
    const tokPath =
      o.tokenizer === undefined
        ? besideFile(path, 'tokenizer.json')
        : typeof o.tokenizer === 'string'
          ? o.tokenizer
          : undefined;
    const tokenizer =
      o.tokenizer && typeof o.tokenizer === 'object' ? o.tokenizer : tokPath ? loadHfTokenizer(tokPath) : undefined;
    const cfgPath = typeof o.config === 'string' ? o.config : o.config ? undefined : besideFile(path, 'config.json');
    const config =
      typeof o.config === 'object'
        ? o.config
        : cfgPath
          ? (JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>)
          : undefined;
    let hidden: readonly string[] = [];
    let hiddenMissing: string | undefined;
    if (o.hidden === undefined || o.hidden === 'auto') {
      const walk = graph ? walkResidualStream(graph) : undefined;
      if (undecodable)
        hiddenMissing = `Retort cannot decode ${path} (${undecodable.message}), so it can neither walk the graph for hidden states nor add them as outputs; re-save the model with standard ONNX fields, then leave hidden 'auto' or name the values (\`source.hidden: [...]\` in a run config, the \`hidden\` option of OnnxTeacher.load)`;
      if (walk?.names) hidden = walk.names;
      else if (walk) hiddenMissing = hiddenHint(walk.reason, walk.candidates, walk.suggested);
    } else hidden = o.hidden;
    const attentions = o.attentions ?? [];
    // By path when the weights are in a data file: onnxruntime finds it beside the .onnx.
    const session = await OnnxSession.open(external ? path : bytes, {
      extraOutputs: [...hidden, ...attentions],
      logitsName: o.logitsName,
      config,
      threads: o.threads,
    });
    const h = createHash('sha256').update(bytes);
    if (external) hashDataFiles(h, path, graph!);
    const fingerprint = h.digest('hex').slice(0, 32) + (tokenizer ? `:${tokenizerHash(tokenizer).slice(0, 8)}` : '');
    return new OnnxTeacher(
      o.name ?? basename(path),
      session,
      fingerprint,
      hidden,
      attentions,
      tokenizer,
      config,
      hiddenMissing,
    );
  }

  async score(req: OnnxScoreRequest): Promise<ScoreResult> {
    checkRequest(this, req);
    const k = req.topK;
    if (k !== undefined && (!Number.isInteger(k) || k < 1 || k > this.info.vocabSize))
      throw new TeacherError(
        `ONNX teacher '${this.name}': topK must be an integer in [1, ${this.info.vocabSize}], got ${k}`,
      );
    const [, t] = req.ids.shape as [number, number];
    if (
      req.attentionMask &&
      (req.attentionMask.shape.length !== 2 ||
        req.attentionMask.shape[0] !== req.ids.shape[0] ||
        req.attentionMask.shape[1] !== t)
    ) {
      throw new TeacherError(
        `ONNX teacher '${this.name}': attentionMask must be (B, T) like ids [${req.ids.shape.join(', ')}], got [${req.attentionMask.shape.join(', ')}]`,
      );
    }
    for (const i of [...(req.hidden ?? [])])
      if (!this.hiddenNames[i])
        throw new TeacherError(`teacher '${this.name}' has hidden states 0..${this.hiddenNames.length - 1}, not ${i}`);
    for (const i of [...(req.attentions ?? [])])
      if (!this.attentionNames[i])
        throw new TeacherError(
          `teacher '${this.name}' exposes attention maps 0..${this.attentionNames.length - 1}, not ${i}`,
        );
    const { session } = this;
    const graphTopK = k !== undefined && session.graphTopK;
    const fetch = new Set<string>();
    if (req.logits || (k !== undefined && !graphTopK)) fetch.add(session.io.logits.name);
    if (graphTopK) fetch.add(session.topkNames.values).add(session.topkNames.indices);
    for (const i of req.hidden ?? []) fetch.add(this.hiddenNames[i]!);
    for (const i of req.attentions ?? []) fetch.add(this.attentionNames[i]!);
    const mask = req.attentionMask
      ? hostTensor(
          'int64',
          req.attentionMask.shape,
          req.attentionMask.data instanceof BigInt64Array
            ? req.attentionMask.data
            : Array.from(req.attentionMask.data as ArrayLike<number>),
        )
      : undefined;
    const out = await session.run({ ids: req.ids, mask, k: k ?? 1 }, [...fetch]);
    const res: ScoreResult = {};
    const logits = fetch.has(session.io.logits.name) ? fromOrt(out[session.io.logits.name]!) : undefined;
    if (req.logits) res.logits = logits;
    if (k !== undefined) {
      res.topk = graphTopK
        ? { ids: fromOrt(out[session.topkNames.indices]!), logprobs: fromOrt(out[session.topkNames.values]!) }
        : topkFromLogits(logits!, k);
    }
    if (req.hidden) res.hidden = req.hidden.map((i) => fromOrt(out[this.hiddenNames[i]!]!));
    if (req.attentions) res.attentions = req.attentions.map((i) => fromOrt(out[this.attentionNames[i]!]!));
    return res;
  }
}

/** What a file offers as hidden states: candidate values (Add and normalization outputs) and the residual stream guess (or why there is none). */
export function inspectOnnx(
  path: string,
  ops?: readonly string[],
): {
  candidates: CandidateTensor[];
  residual?: string[];
  residualMissing?: string;
  inputs: string[];
  outputs: string[];
} {
  const model = readOnnxFile(path, { externalData: 'reference' });
  const walk = walkResidualStream(model);
  return {
    candidates: listCandidates(model, ops),
    residual: walk.names,
    ...(walk.names ? {} : { residualMissing: hiddenHint(walk.reason, walk.candidates, walk.suggested) }),
    inputs: model.graph.inputs.map((v) => v.name),
    outputs: model.graph.outputs.map((v) => v.name),
  };
}

/** Adds every data file the model references to the fingerprint, read in 64 MiB pieces. */
function hashDataFiles(h: ReturnType<typeof createHash>, path: string, graph: OnnxModel): void {
  const locations = new Set(graph.graph.initializers.flatMap((t) => (t.external ? [t.external.location] : [])));
  const chunk = new Uint8Array(1 << 26);
  for (const location of [...locations].sort()) {
    const fd = openSync(join(dirname(path), location), 'r');
    try {
      h.update(location);
      for (let got = readSync(fd, chunk); got > 0; got = readSync(fd, chunk)) h.update(chunk.subarray(0, got));
    } finally {
      closeSync(fd);
    }
  }
}
