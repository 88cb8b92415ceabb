#!/usr/bin/env node
// The `retort` command. The CLI is TypeScript run through tsx: its ESM loader is registered in this
// process (no second process, no build step), then src/cli/main.ts takes the arguments.
import 'tsx/esm';

const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// Leave no onnxruntime thread pool or open handle keeping the process alive.
process.exit(code);
