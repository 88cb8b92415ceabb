// The client programs the export checks load files with, which are not dependencies of Retort:
// they live in .clients/ (scripts/install-clients.sh, which npm test runs for these tests).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** transformers.js from .clients/, or the entry file RETORT_TRANSFORMERS_JS names; null when neither loads. */
export async function loadTransformersJs(): Promise<any | null> {
  const local = join(
    import.meta.dirname,
    '../../.clients/node_modules/@huggingface/transformers/dist/transformers.node.mjs',
  );
  const entry =
    process.env.RETORT_TRANSFORMERS_JS ?? (existsSync(local) ? pathToFileURL(local).href : '@huggingface/transformers');
  try {
    return await import(entry);
  } catch {
    return null;
  }
}
