// `retort serve` in a child process, for tests that kill or signal the server:
//   node --import tsx src/serve/testing/child.ts MODEL [serve flags...]
// Prints "retort serve: ... listening on URL" on stdout once it accepts requests.
import { serveCommand } from '../command.ts';

serveCommand(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
});
