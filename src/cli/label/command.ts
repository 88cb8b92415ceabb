// retort label CONFIG [--shard i/n | --merge]: the offline teacher pass of a run config, ahead of
// `retort distill`, optionally split into shards that run anywhere (each resumable) and are merged
// after. It labels exactly the examples the config's offline step would (same windows, tokenizer and
// teacher), into the folder that step reads, so distill finds the store complete and skips labelling.
// The implementation is in ./run.ts, loaded when the command runs (help stays fast); its option schema in ./schema.ts.
import { defineCommand } from '../command.ts';
import { labelSchema } from './schema.ts';

export const labelCommand = defineCommand({
  name: 'label',
  summary: "Run a config's offline teacher pass into a store, in shards (--shard i/n) merged after (--merge)",
  usage:
    'retort label CONFIG [--teacher NAME] [--shard i/n] [--merge] [--top-k K] [--targets topk|sampled] [--samples N] [--encoding compact|f32] [--batch N]',
  description: [
    "Labels the training examples of a run config with a teacher's top-k next-token log-probabilities",
    "(or, with targets sampled, tokens drawn from its distribution), as the config's offline step would,",
    'into the store folder that step reads (its dir, default {checkpoint.dir}/store-{teacher}). With',
    '--shard i/n only the i-th of n contiguous ranges is labelled, into {store}-shards/shard-i-of-n (run',
    'the shards anywhere; each resumes where it stopped); --merge then checks that every shard is there',
    "once and writes the store. retort distill then trains from it. It prints the store's bytes per token.",
  ].join('\n'),
  examples: [
    'retort label runs/offline.yaml',
    'retort label runs/offline.yaml --shard 0/4   # ... 1/4, 2/4, 3/4, on any machines',
    'retort label runs/offline.yaml --merge && retort distill runs/offline.yaml',
  ],
  interruptible: true,
  positionals: { names: 'CONFIG (a run config with a distill section)', min: 1, max: 1 },
  options: {
    teacher: {
      type: 'string',
      arg: 'NAME',
      help: "Which of the config's teachers (default the offline step's first, else the first)",
    },
    shard: { type: 'string', arg: 'i/n', help: 'Label only shard i of n' },
    merge: { type: 'boolean', help: 'Merge the finished shards into the store' },
    'top-k': { type: 'string', arg: 'K', help: "Tokens kept per position (default the offline step's topK, else 20)" },
    targets: {
      type: 'string',
      arg: 'KIND',
      help: "topk or sampled (draws from the teacher; default the offline step's targets, else topk)",
    },
    samples: {
      type: 'string',
      arg: 'N',
      help: "Draws per position for targets sampled (default the offline step's samples, else 12)",
    },
    encoding: {
      type: 'string',
      arg: 'ENC',
      help: "compact (fp16 log-probs, packed ids, tail mass) or f32 (default the offline step's encoding, else compact)",
    },
    batch: {
      type: 'string',
      arg: 'N',
      help: "Examples per teacher call (default the offline step's labelBatch, else 16)",
    },
  },
  schema: labelSchema,
  run: async (ctx): Promise<unknown> => (await import('./run.ts')).run(ctx),
});
