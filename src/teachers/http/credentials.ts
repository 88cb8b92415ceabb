// The API key: read from the environment (RETORT_API_KEY, then OPENAI_API_KEY) or from a
// credentials file ({"api_key": "..."}), never from command-line arguments or configs that get
// logged. It lives in a private field of the client; every error message passes through redact().
import { existsSync, readFileSync } from 'node:fs';

export interface KeySource {
  /** A JSON file with {"api_key": "..."} (or "apiKey"), read when neither variable is set. */
  credentialsFile?: string;
  /** Environment to read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export function resolveApiKey(o: KeySource = {}): string | undefined {
  const env = o.env ?? process.env;
  const fromEnv = env.RETORT_API_KEY || env.OPENAI_API_KEY;
  if (fromEnv) return fromEnv.trim();
  if (!o.credentialsFile) return undefined;
  if (!existsSync(o.credentialsFile))
    throw new Error(
      `credentials file ${o.credentialsFile} does not exist; write {"api_key": "..."} there or set RETORT_API_KEY`,
    );
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(o.credentialsFile, 'utf8')) as Record<string, unknown>;
  } catch {
    // The parser's message may quote the file's text, key included: say only where.
    throw new Error(`credentials file ${o.credentialsFile} is not valid JSON; expected {"api_key": "..."}`);
  }
  const key = json.api_key ?? json.apiKey;
  if (typeof key !== 'string' || !key) throw new Error(`credentials file ${o.credentialsFile} has no "api_key" string`);
  return key.trim();
}

/** Replaces every occurrence of the key (and of any Bearer token) in `text`. */
export function redact(text: string, key: string | undefined): string {
  let out = text.replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [REDACTED]');
  if (key && key.length >= 4) out = out.split(key).join('[REDACTED]');
  return out;
}
