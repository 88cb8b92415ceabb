// Test helper: runs the CLI in this process and collects what it printed.
import { main } from './main.ts';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** `retort ARGV...`: exit code, stdout and stderr (each printed piece ends in a newline). */
export async function cli(...argv: string[]): Promise<CliResult> {
  let out = '',
    err = '';
  const line = (t: string) => (t.endsWith('\n') ? t : `${t}\n`);
  const code = await main(argv, { out: (t) => void (out += line(t)), err: (t) => void (err += line(t)) });
  return { code, out, err };
}
