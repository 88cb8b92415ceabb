// Writes a file so that readers see either the old file or the complete new one, never half of it:
// a crash mid-save must not leave a truncated checkpoint under the real name.
// Recipe: write a temp file in the same folder (rename is only atomic within one file system),
// fsync it, rename it over the target, then fsync the folder so the rename itself survives a power cut.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Calls `write(fd)` on a temp file beside `path`, then moves it into place. Returns what `write` returns. */
export function atomicWrite<T>(path: string, write: (fd: number) => T): T {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx');
  let result: T;
  try {
    result = write(fd);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  syncFolder(dir);
  return result;
}

/** Writes all of `bytes` at the fd's current position (writeSync may write less than asked). */
export function writeAll(fd: number, bytes: Uint8Array): void {
  // Node refuses single writes above 2 GiB; write in 1 GiB slices.
  const chunk = 1 << 30;
  let done = 0;
  while (done < bytes.length) {
    const end = Math.min(bytes.length, done + chunk);
    done += writeSync(fd, bytes, done, end - done);
  }
}

export function atomicWriteFile(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  atomicWrite(path, (fd) => writeAll(fd, bytes));
}

/** fsyncs a folder (or file) by path, so a rename or a file created in it survives a power cut. */
export function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms (Windows, some network file systems) cannot fsync a folder; the rename is still done.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
