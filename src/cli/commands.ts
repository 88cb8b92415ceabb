// Every `retort` command, in the order `retort --help` lists them.
import type { Command } from './command.ts';
import { demoCommand } from './demo/command.ts';
import { distillCommand } from './distill/command.ts';
import { evalCommand } from './eval/command.ts';
import { exportCommand } from './export/command.ts';
import { labelCommand } from './label/command.ts';
import { serveCommand } from './serve/command.ts';
import { trainCommand } from './train/command.ts';
import { webCommand } from './web/command.ts';

// biome-ignore lint/suspicious/noExplicitAny: a table of commands whose option types differ; main() parses each with its own schema
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
