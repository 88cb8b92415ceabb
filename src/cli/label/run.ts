// retort label CONFIG [--shard i/n | --merge]: the offline teacher pass of a run config, ahead of
// `retort distill`, optionally split into shards that run anywhere (each resumable) and are merged
// after. It labels exactly the examples the config's offline step would (same windows, tokenizer and
// teacher), into the folder that step reads, so distill finds the store complete and skips labelling.
import { join, resolve, dirname } from 'node:path';
import { ConfigError, loadRunConfig } from '../../distill/config/index.ts';
import { labelShard, mergeShards, parseShard } from '../../distill/label/index.ts';
import {
  bytesPerToken,
  DEFAULT_SAMPLES,
  type StoreLayout,
  StoreReader,
  tokenizerHash,
} from '../../distill/store/index.ts';
import {
  distillSectionSchema,
  resolveTeachers,
  windowExamples,
  type StepConfig,
} from '../../distill/strategies/index.ts';
import { loadHfTokenizer } from '../../models/tokenizers/hf-tokenizer.ts';
import { UsageError, type CommandContext } from '../command.ts';
import { tokenCorpus } from '../../data/corpus.ts';

type OfflineStep = Extract<StepConfig, { kind: 'offline' }>;
import type { LabelValues } from './schema.ts';

export async function run({ values, positionals, io, json, signal }: CommandContext<LabelValues>) {
  const file = positionals[0]!;
  const name = file.split('/').at(-1)!;
  const c = loadRunConfig(file, { distill: distillSectionSchema });
  if (!c.distill || c.distill.teachers.length === 0) {
    const fix = 'add distill: {teachers: [{name: big, source: {kind: retort, hfDir: ...}}], strategy: {kind: offline}}';
    throw new ConfigError(name, [
      {
        path: 'distill.teachers',
        expected: 'at least one teacher',
        received: 'nothing',
        fix,
        message: `${name}: distill.teachers: expected at least one teacher, got nothing; fix: ${fix}`,
      },
    ]);
  }
  const strategy = c.distill.strategy;
  const offline = (strategy.kind === 'pipeline' ? strategy.steps : [strategy]).find(
    (s): s is OfflineStep => s.kind === 'offline',
  );
  const teacherName = values.teacher ?? offline?.teachers?.[0] ?? c.distill.teachers[0]!.name;
  const entry = c.distill.teachers.find((t) => t.name === teacherName);
  if (!entry)
    throw new UsageError(
      `--teacher ${teacherName}: the config's teachers are ${c.distill.teachers.map((t) => t.name).join(', ')}`,
      'label',
    );
  const store = offline?.dir
    ? resolve(dirname(resolve(file)), offline.dir)
    : join(c.checkpoint.dir, `store-${teacherName}`);
  const shardsRoot = `${store}-shards`;
  if (values.merge) {
    if (values.shard)
      throw new UsageError('--merge and --shard: merge after every shard is labelled, in a separate run', 'label');
    const r = mergeShards(shardsRoot, store);
    const reader = new StoreReader(store);
    const layout = reader.layout;
    reader.close();
    if (!json) io.out(`merged ${shardsRoot} into ${store}\n${storeLine(layout)}`);
    return { store, merged: r, bytesPerToken: bytesPerToken(layout) };
  }
  let shard = { index: 0, count: 1 };
  if (values.shard) {
    try {
      shard = parseShard(values.shard);
    } catch (err) {
      throw new UsageError((err as Error).message, 'label');
    }
  }
  const log = (line: string) => io.err(line);
  const tokenizer = c.data.tokenizer.kind === 'hf' ? loadHfTokenizer(c.data.tokenizer.path) : undefined;
  const corpus = tokenCorpus(c.data, { tokenizer, log });
  const baseDir = dirname(resolve(file));
  const [teacher] = await resolveTeachers([entry], { tokenizer: corpus.tokenizer, baseDir });
  const windows = windowExamples(corpus.train, c.data.seqLen, { stride: offline?.stride, max: offline?.maxExamples });
  const r = await labelShard({
    teacher: teacher!.teacher,
    examples: windows.inputs,
    shard,
    topK: values['top-k'] ?? offline?.topK ?? 20,
    targets: values.targets ?? offline?.targets ?? 'topk',
    samples: values.samples ?? offline?.samples ?? DEFAULT_SAMPLES,
    seed: offline?.seed ?? 0,
    encoding: values.encoding ?? offline?.encoding ?? 'compact',
    root: shardsRoot,
    batch: values.batch ?? offline?.labelBatch ?? 16,
    tokenizer: tokenizerHash(corpus.tokenizer),
    signal,
    onProgress: (p) => log(`label: shard ${shard.index}/${shard.count}: ${p.done}/${p.total} examples`),
  });
  if (!json) {
    io.out(
      `${r.complete ? 'labelled' : 'stopped after'} ${r.skipped + r.labelled}/${r.total} examples of shard ${shard.index}/${shard.count} in ${r.dir}${r.stopped ? ` (${r.stopped}; rerun to continue)` : ''}`,
    );
    io.out(storeLine(r.layout));
    if (r.complete)
      io.out(
        shard.count === 1
          ? `next: retort label ${file} --merge, then retort distill ${file}`
          : `when every shard is done: retort label ${file} --merge`,
      );
  }
  return { store, shard, ...r };
}

/** `store: 87.1 bytes/token (compact, k 20, V 151936)`: what the store costs on disk per token. */
export function storeLine(l: StoreLayout): string {
  const what = l.targets === 'sampled' ? `sampled ${l.topK} per position` : `k ${l.topK}`;
  return `store: ${bytesPerToken(l).toFixed(1)} bytes/token (${l.encoding}, ${what}, V ${l.vocabSize})`;
}
