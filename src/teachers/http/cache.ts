// An on-disk cache of API responses, so a killed labelling run resumes without paying for a
// request twice. One folder holds:
//   responses.jsonl   one line per response: {"k": key, "t": ISO time, "r": response}, appended
//                     and fsynced before the response is handed out
//   lock              the pid of the process that has the cache open (one writer at a time)
// The index (key → byte range of its line) is rebuilt by scanning the file on open; a line cut
// short by a crash (no newline, or not JSON) is the last one and is truncated away, so every
// response in the file is whole and each key appears once.
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

export class CacheLockedError extends Error {
  override name = 'CacheLockedError';
}

/** Folders this process has open: a second open in the same process is refused too. */
const openHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function takeLock(dir: string): string {
  const lock = join(dir, 'lock');
  if (openHere.has(dir))
    throw new CacheLockedError(`${dir}: this cache is already open in this process; share one HttpClient`);
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      openHere.add(dir);
      return lock;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(lock, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new CacheLockedError(`${dir}: the cache is in use by process ${pid}; run one labeller per cache folder`);
      }
      rmSync(lock, { force: true }); // left by a process that died
    }
  }
  throw new CacheLockedError(`${dir}: could not take the lock`);
}

export class RequestCache {
  private readonly index = new Map<string, { at: number; length: number }>();
  private readonly fd: number;
  private size: number;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly lock: string,
  ) {
    const file = join(dir, 'responses.jsonl');
    if (!existsSync(file)) writeFileSync(file, '');
    this.fd = openSync(file, 'r+');
    this.size = this.scan();
  }

  static open(dir: string): RequestCache {
    mkdirSync(dir, { recursive: true });
    const lock = takeLock(dir);
    try {
      return new RequestCache(dir, lock);
    } catch (err) {
      openHere.delete(dir);
      rmSync(lock, { force: true });
      throw err;
    }
  }

  get count(): number {
    return this.index.size;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  get(key: string): unknown {
    const e = this.index.get(key);
    if (!e) return undefined;
    const buf = Buffer.allocUnsafe(e.length);
    readSync(this.fd, buf, 0, e.length, e.at);
    return (JSON.parse(buf.toString('utf8')) as { r: unknown }).r;
  }

  /** Appends and fsyncs; a key already present is kept as it was. */
  put(key: string, response: unknown): void {
    if (this.closed) throw new Error(`${this.dir}: cache is closed`);
    if (this.index.has(key)) return;
    const line = Buffer.from(`${JSON.stringify({ k: key, t: new Date().toISOString(), r: response })}\n`, 'utf8');
    let done = 0;
    while (done < line.length) done += writeSync(this.fd, line, done, line.length - done, this.size + done);
    fsyncSync(this.fd);
    this.index.set(key, { at: this.size, length: line.length - 1 });
    this.size += line.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    rmSync(this.lock, { force: true });
    openHere.delete(this.dir);
  }

  /** Builds the index; truncates a torn last line. Returns the good length of the file. */
  private scan(): number {
    const total = fstatSync(this.fd).size;
    const buf = Buffer.allocUnsafe(total);
    let got = 0;
    while (got < total) got += readSync(this.fd, buf, got, total - got, got);
    let at = 0;
    while (at < total) {
      const nl = buf.indexOf(10, at);
      if (nl < 0) break; // no newline: cut off mid-write
      try {
        const { k } = JSON.parse(buf.toString('utf8', at, nl)) as { k: string };
        if (typeof k !== 'string') throw new Error('no key');
        if (!this.index.has(k)) this.index.set(k, { at, length: nl - at });
      } catch {
        break; // a corrupt line: everything from here on is dropped
      }
      at = nl + 1;
    }
    if (at < total) {
      ftruncateSync(this.fd, at);
      fsyncSync(this.fd);
    }
    return at;
  }
}
