// Every `retort` command, in the order `retort --help` lists them.
import type { Command } from '../command.ts';
import { demoCommand } from './demo.ts';
import { distillCommand } from './distill.ts';
import { evalCommand } from './eval.ts';
import { exportCommand } from './export.ts';
import { labelCommand } from './label.ts';
import { serveCommand } from './serve.ts';
import { trainCommand } from './train.ts';
import { webCommand } from './web.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: Record<string, Command<any>> = {
  train: trainCommand,
  label: labelCommand,
  distill: distillCommand,
  eval: evalCommand,
  export: exportCommand,
  serve: serveCommand,
  web: webCommand,
  demo: demoCommand,
};
