// Text generation: B prompts at once, each row sampled, stopped and streamed on its own.
//   const gen = new Generator(model, params);
//   for await (const e of gen.stream([ids], { maxNewTokens: 64, tokenizer, stop: ['\n\n'] })) process.stdout.write(e.text);
import { mulberry32, ParamStore } from '../runtime/index.ts';
import { makeSampler, type Sampler } from './sampling.ts';
import { CachedStepper, roundCapacity, SlotLayout, WindowStepper, type Stepper } from './steppers.ts';
import { ModelRunner, type RunnerOptions } from './runner.ts';
import { TextTracker } from './stop.ts';
import type {
  DecoderModel,
  FinishReason,
  GenerateEvent,
  GenerateOptions,
  GenerateResult,
  ParamValues,
} from './types.ts';

interface Row {
  /** Prompt and output: what the repetition penalty looks at. */
  context: number[];
  out: number[];
  sampler: Sampler;
  text: TextTracker;
  reason?: FinishReason;
}

export class Generator {
  readonly runner: ModelRunner;

  constructor(
    readonly model: DecoderModel,
    params: ParamValues | ParamStore,
    o: RunnerOptions = {},
  ) {
    this.runner = new ModelRunner(model, params instanceof ParamStore ? params.values : params, o);
  }

  /** Generates for every prompt and returns the new tokens (and text, given a tokenizer). */
  async generate(prompts: readonly (readonly number[])[], o: GenerateOptions): Promise<GenerateResult> {
    const tokens: number[][] = prompts.map(() => []);
    const text: string[] = prompts.map(() => '');
    const finishReasons: FinishReason[] = prompts.map(() => 'length');
    for await (const e of this.stream(prompts, o)) {
      tokens[e.row]!.push(e.token);
      text[e.row] += e.text;
      if (e.finishReason) finishReasons[e.row] = e.finishReason;
    }
    return o.tokenizer ? { tokens, text, finishReasons } : { tokens, finishReasons };
  }

  /** One event per generated token per row, as soon as the step that made it is done. */
  async *stream(prompts: readonly (readonly number[])[], o: GenerateOptions): AsyncGenerator<GenerateEvent> {
    this.check(prompts, o);
    const V = this.model.config.vocabSize;
    const padId = o.padTokenId ?? 0;
    const eos = new Set([o.eosTokenId ?? this.model.config.eosTokenId ?? []].flat());
    const layout = new SlotLayout(prompts, padId);
    const stepper = this.stepper(layout, o);
    const rows: Row[] = prompts.map((p, r) => ({
      context: [...p],
      out: [],
      sampler: makeSampler(o, mulberry32(seedOf(o.seed, r, prompts.length))),
      text: new TextTracker(o.stop),
    }));

    let logits = await stepper.start();
    for (;;) {
      const fed: number[] = [];
      for (const [r, row] of rows.entries()) {
        if (row.reason) {
          fed.push(padId);
          continue;
        }
        const token = row.sampler(logits.subarray(r * V, (r + 1) * V), row.context);
        row.out.push(token);
        row.context.push(token);
        fed.push(token);
        const e = this.finish(row, token, eos, o);
        yield { row: r, token, ...e };
      }
      if (rows.every((row) => row.reason)) return;
      logits = await stepper.next(fed);
    }
  }

  /** Decides whether `row` ends with `token` and what new text it shows. */
  private finish(
    row: Row,
    token: number,
    eos: Set<number>,
    o: GenerateOptions,
  ): { text: string; finishReason?: FinishReason } {
    let text = '';
    if (eos.has(token))
      row.reason = 'eos'; // the end token's own text is never shown
    else if (o.tokenizer) {
      const u = row.text.update(o.tokenizer.decode(row.out));
      text = u.delta;
      if (u.stopped) row.reason = 'stop';
    }
    if (!row.reason && row.out.length >= o.maxNewTokens) row.reason = 'length';
    if (row.reason && row.reason !== 'stop') text += row.text.flush();
    return row.reason ? { text, finishReason: row.reason } : { text };
  }

  private stepper(layout: SlotLayout, o: GenerateOptions): Stepper {
    // Mistral-style models refuse sequences past their sliding window, so it caps the cache too.
    const c = this.model.config as DecoderModel['config'] & { slidingWindow?: number };
    const limit = Math.min(c.maxPositions ?? Infinity, c.slidingWindow ?? Infinity);
    // The last new token is never fed back, so the sequence the model sees is one shorter than the output.
    const need = layout.promptSlots + o.maxNewTokens - 1;
    if (need + 1 > limit) {
      throw new RangeError(
        `generate: a prompt of ${layout.promptSlots} tokens plus maxNewTokens ${o.maxNewTokens} exceeds the model's ${limit} positions (maxPositions or sliding window); shorten the prompt or ask for fewer tokens`,
      );
    }
    // A decode step attends over the cache plus the new token, so the cache holds at most limit − 1.
    return o.useCache === false
      ? new WindowStepper(this.runner, layout, roundCapacity(need, limit))
      : new CachedStepper(this.runner, layout, roundCapacity(need, limit - 1));
  }

  private check(prompts: readonly (readonly number[])[], o: GenerateOptions): void {
    const V = this.model.config.vocabSize;
    if (prompts.length === 0)
      throw new RangeError('generate: prompts is empty; pass at least one prompt (an array of token ids)');
    prompts.forEach((p, r) => {
      if (p.length === 0)
        throw new RangeError(`generate: prompt ${r} is empty; start it with a BOS token if the model has one`);
      const bad = p.find((id) => !Number.isInteger(id) || id < 0 || id >= V);
      if (bad !== undefined)
        throw new RangeError(`generate: prompt ${r} holds token id ${bad}, outside the vocabulary [0, ${V})`);
    });
    if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1)
      throw new RangeError(`generate: maxNewTokens must be a positive integer, got ${o.maxNewTokens}`);
    if (o.stop?.length && !o.tokenizer)
      throw new Error(
        'generate: stop strings are matched on decoded text; pass a tokenizer (anything with decode(ids))',
      );
  }
}

function seedOf(seed: number | number[] | undefined, row: number, rows: number): number {
  if (!Array.isArray(seed)) return ((seed ?? 0) + row) >>> 0;
  if (seed.length !== rows)
    throw new RangeError(
      `generate: seed has ${seed.length} entries for ${rows} prompts; give one per prompt or a single number`,
    );
  return seed[row]! >>> 0;
}
