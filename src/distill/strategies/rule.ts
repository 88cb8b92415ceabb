// What one strategy is: a row of the table in rules.ts.
import type { z } from 'zod';
import type { DistillContext, StageInfo, StageReport } from './context.ts';

export interface StrategyRule<S extends z.ZodType = z.ZodType> {
  /** The config, `kind` included. */
  readonly schema: S;
  /** Paper and idea. */
  readonly cite: string;
  /**
   * 'prepare': changes the run for the training that follows (teachers, data, starting weights,
   * batch mix) and trains no student. 'train': trains the student (and leaves it in the context).
   */
  readonly role: 'prepare' | 'train';
  run(ctx: DistillContext, config: z.output<S>, stage: StageInfo): Promise<StageReport>;
}

/** Keeps a row's config type while checking it against the interface. */
export const strategyRule = <S extends z.ZodType>(r: StrategyRule<S>): StrategyRule<S> => r;
