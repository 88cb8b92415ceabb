// Checksums for checkpoint files and a stable hash of a run's configuration.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { canonicalJson } from '../../data/canonical-json.ts';

export { canonicalJson };

/** sha256 of a file, read in 16 MiB slices so a multi-GB checkpoint is never held in memory twice. */
export function sha256File(path: string): { sha256: string; bytes: number } {
  const fd = openSync(path, 'r');
  try {
    const bytes = fstatSync(fd).size;
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(Math.min(bytes, 16 << 20) || 1);
    let at = 0;
    while (at < bytes) {
      const got = readSync(fd, buf, 0, Math.min(buf.length, bytes - at), at);
      if (got === 0) break;
      hash.update(buf.subarray(0, got));
      at += got;
    }
    return { sha256: hash.digest('hex'), bytes };
  } finally {
    closeSync(fd);
  }
}

/** sha256 of the canonical JSON of a configuration: the same settings give the same hash, whatever the key order. */
export function configHash(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}
