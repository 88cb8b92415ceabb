// Augmentation for classifiers: labelled texts made two ways, on the same deduplicating, resumable
// set on disk as LM augmentation (generate.ts), and a data source that mixes them into the
// labelled training texts at a ratio.
//  - promptForLabels: an LM teacher writes a text for each label from a prompt template
//    ("Write a {label} email:\n"); the text gets the prompt's label.
//  - labelWithClassifier: unlabelled texts (or perturbed copies of training texts: words dropped
//    and neighbours swapped, as in EDA, Wei & Zou 2019) labelled by a classifier teacher's argmax,
//    its class probabilities kept as soft targets.
import { input } from '../../../graph/index.ts';
import type { SequenceClassifier } from '../../../models/classifier/index.ts';
import type { Tokenizer } from '../../../models/tokenizers/tokenizer.ts';
import { hostTensor, type Executor, type ParamStore, type Program } from '../../../runtime/index.ts';
import type { Json } from '../../checkpoint/index.ts';
import type { LabelledText } from '../../classify/index.ts';
import type { Batch, DataSource } from '../../trainer/index.ts';
import type { TextGenerator } from '../context.ts';
import { rngAt } from '../examples.ts';
import type { Rng } from '../../../data/rng.ts';
import type { DedupeOptions } from './dedupe.ts';
import type { GeneratedSet } from './examples-file.ts';
import { generateSet } from './generate.ts';
import { isGeneratedRow } from './mix.ts';

export type { LabelledText };

interface SetOptions {
  /** Folder of the set (examples.jsonl, manifest.json). */
  dir: string;
  count: number;
  maxAttempts?: number;
  batch?: number;
  dedupe?: DedupeOptions;
  /** Texts the generated ones must not repeat (the training texts). */
  existing?: Iterable<string>;
  seed?: number;
}

const DEDUPE: DedupeOptions = { ngram: 5, threshold: 0.8 };

export interface PromptForLabelsOptions extends SetOptions {
  generate: TextGenerator;
  /** Identifies the writing teacher (its fingerprint): a set of another teacher is refused. */
  teacher: string;
  tokenizer: Tokenizer;
  /** Label names; attempt i writes for label i mod labels.length. */
  labels: readonly string[];
  /** Prompt with {label} where the label's name goes. */
  template: string;
  maxNewTokens: number;
  temperature?: number;
  topP?: number;
  topK?: number;
}

export function promptForLabels(o: PromptForLabelsOptions): Promise<GeneratedSet> {
  if (!o.template.includes('{label}'))
    throw new Error(
      `promptForLabels: template ${JSON.stringify(o.template)} has no {label}; write where the label's name goes, e.g. "Write a {label} email:\\n"`,
    );
  const seed = o.seed ?? 0;
  const sampling = {
    maxNewTokens: o.maxNewTokens,
    temperature: o.temperature ?? 1,
    topP: o.topP ?? 1,
    topK: o.topK ?? 0,
  };
  return generateSet({
    dir: o.dir,
    count: o.count,
    maxAttempts: o.maxAttempts ?? 4 * o.count,
    batch: o.batch ?? 8,
    dedupe: o.dedupe ?? DEDUPE,
    existing: o.existing,
    identity: {
      kind: 'promptForLabels',
      teacher: o.teacher,
      labels: [...o.labels],
      template: o.template,
      seed,
      ...sampling,
    },
    propose: async (from, n) => {
      const labels = Array.from({ length: n }, (_, k) => (from + k) % o.labels.length);
      // Prompts differ only by label, so rows are told apart by their seeds (seed + attempt).
      const out = await o.generate(
        labels.map((l) => o.tokenizer.encode(o.template.replaceAll('{label}', o.labels[l]!))),
        { ...sampling, seed: seed + from },
      );
      return out.map((ids, k) => ({ text: o.tokenizer.decode(ids).trim(), label: labels[k]! }));
    },
  });
}

/** EDA-style noise: each word dropped with probability `drop`, then neighbours swapped with probability `swap`. */
export function perturb(text: string, rng: Rng, o: { drop: number; swap: number }): string {
  const words = text.split(/\s+/).filter(Boolean);
  const kept = words.filter(() => rng.next() >= o.drop);
  const out = kept.length > 0 ? kept : words.slice(0, 1);
  for (let i = 0; i + 1 < out.length; i++) if (rng.next() < o.swap) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  return out.join(' ');
}

/** A classifier's class probabilities for texts (B at a time), from a SequenceClassifier compiled once per shape. */
export type Classify = (texts: readonly string[]) => Promise<number[][]>;

export function classifierTeacher(
  model: SequenceClassifier,
  params: ParamStore,
  tokenizer: Tokenizer,
  o: { seq: number; padId?: number; executor: Executor },
): Classify {
  const programs = new Map<number, Promise<Program>>();
  const pad = o.padId ?? tokenizer.padId ?? 0;
  return async (texts) => {
    const b = texts.length;
    let p = programs.get(b);
    if (!p) {
      const out = model.forward(input('input_ids', [b, o.seq], 'int64'), {
        mask: input('attention_mask', [b, o.seq], 'int64'),
      });
      programs.set(b, (p = o.executor.compile({ logits: out.logits }, { name: 'classifier_teacher' })));
    }
    const program = await p;
    const { ids, mask } = encodeRows(texts, tokenizer, o.seq, pad);
    const feeds: Record<string, ReturnType<typeof hostTensor>> = {
      input_ids: hostTensor('int64', [b, o.seq], ids),
      attention_mask: hostTensor('int64', [b, o.seq], mask),
    };
    for (const spec of program.inputs) if (spec.kind === 'param') feeds[spec.name] = params.get(spec.name);
    const logits = (await program.run(feeds)).logits!.data as Float32Array;
    const c = logits.length / b;
    return Array.from({ length: b }, (_, r) => softmax(logits.subarray(r * c, (r + 1) * c)));
  };
}

function softmax(x: Float32Array): number[] {
  const m = Math.max(...x);
  const e = Array.from(x, (v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}

export interface LabelWithClassifierOptions extends SetOptions {
  classify: Classify;
  /** Identifies the labelling classifier (its fingerprint). */
  teacher: string;
  /** The texts to label (attempt i takes one at random). */
  texts: readonly string[];
  /** Noise on each text before labelling; absent: the texts as they are. */
  perturb?: { drop: number; swap: number };
}

export function labelWithClassifier(o: LabelWithClassifierOptions): Promise<GeneratedSet> {
  if (o.texts.length === 0) throw new Error('labelWithClassifier: no texts to label');
  const seed = o.seed ?? 0;
  return generateSet({
    dir: o.dir,
    count: o.count,
    maxAttempts: o.maxAttempts ?? 4 * o.count,
    batch: o.batch ?? 8,
    dedupe: o.dedupe ?? DEDUPE,
    existing: o.existing,
    identity: {
      kind: 'labelWithClassifier',
      teacher: o.teacher,
      texts: o.texts.length,
      perturb: (o.perturb ?? null) as Json,
      seed,
    },
    propose: async (from, n) => {
      const texts = Array.from({ length: n }, (_, k) => {
        const rng = rngAt(seed, from + k, 0x636c73);
        const src = o.texts[rng.nextInt(o.texts.length)]!;
        return o.perturb ? perturb(src, rng, o.perturb) : src;
      });
      const probs = await o.classify(texts);
      return texts.map((text, k) => ({ text, label: argmax(probs[k]!), probs: probs[k]! }));
    },
  });
}

const argmax = (xs: readonly number[]) => xs.reduce((best, v, i) => (v > xs[best]! ? i : best), 0);

/** Token ids cut or right-padded to `seq`, with the keep-mask. */
function encodeRows(
  texts: readonly string[],
  tok: Tokenizer,
  seq: number,
  pad: number,
): { ids: BigInt64Array; mask: BigInt64Array } {
  const ids = new BigInt64Array(texts.length * seq).fill(BigInt(pad)),
    mask = new BigInt64Array(texts.length * seq);
  texts.forEach((t, r) => {
    const row = tok.encode(t).slice(0, seq);
    if (row.length === 0) row.push(pad); // an empty text still needs one kept position to pool
    row.forEach((id, i) => {
      ids[r * seq + i] = BigInt(id);
      mask[r * seq + i] = 1n;
    });
  });
  return { ids, mask };
}

/**
 * Labelled rows for a classifier (input_ids, attention_mask (B, T), labels (B)): row k of the run is a
 * generated example when isGeneratedRow(k, ratio), else a training one, each picked at random
 * (seeded per row). The cursor is {seed, index}.
 */
export function classifierSource(
  original: readonly LabelledText[],
  generated: readonly LabelledText[],
  o: { batch: number; seq: number; tokenizer: Tokenizer; ratio: number; seed: number; padId?: number },
): DataSource {
  if (original.length === 0) throw new Error('classifierSource: no training examples');
  if (o.ratio > 0 && generated.length === 0)
    throw new Error(`classifierSource: ratio ${o.ratio} but no generated examples; generate some or use ratio 0`);
  const pad = o.padId ?? o.tokenizer.padId ?? 0;
  const make = (index: number): Batch => {
    const rows = Array.from({ length: o.batch }, (_, r) => {
      const k = index * o.batch + r;
      const from = o.ratio > 0 && isGeneratedRow(k, o.ratio) ? generated : original;
      return from[rngAt(o.seed, k, 0x726f77).nextInt(from.length)]!;
    });
    const { ids, mask } = encodeRows(
      rows.map((x) => x.text),
      o.tokenizer,
      o.seq,
      pad,
    );
    return {
      input_ids: hostTensor('int64', [o.batch, o.seq], ids),
      attention_mask: hostTensor('int64', [o.batch, o.seq], mask),
      labels: hostTensor(
        'int64',
        [o.batch],
        rows.map((x) => x.label),
      ),
    };
  };
  return {
    inputs: {
      input_ids: { shape: [o.batch, o.seq], dtype: 'int64' },
      attention_mask: { shape: [o.batch, o.seq], dtype: 'int64' },
      labels: { shape: [o.batch], dtype: 'int64' },
    },
    open(cursor?: Json) {
      const c = cursor as { seed?: unknown; index?: unknown } | undefined;
      if (c !== undefined && (c === null || c.seed !== o.seed || !Number.isSafeInteger(c.index)))
        throw new Error(
          `classifierSource: cursor ${JSON.stringify(cursor)} was not made by this source (seed ${o.seed})`,
        );
      let index = (c?.index as number | undefined) ?? 0;
      return { next: () => make(index++), cursor: () => ({ seed: o.seed, index }) };
    },
  };
}
