// How much memory a load may take, and the refusal when a checkpoint's float32 weights need more: a clear
// error before any byte is read beats the kernel killing the process halfway through a 6 GB load.
// The figure is the smaller of the machine's available memory (os.freemem(): MemAvailable on Linux, which
// counts reclaimable page cache) and, inside a container, the cgroup's limit less what it already uses.
import { existsSync, readFileSync } from 'node:fs';
import { freemem, platform, totalmem } from 'node:os';
import { join } from 'node:path';

export interface MemoryFigure {
  bytes: number;
  /** Where the figure came from, as the refusal says it. */
  source: string;
}

export interface MemoryOptions {
  /** The machine's free memory; default os.freemem() (os.totalmem() on macOS, see below). */
  freeBytes?: number;
  /** The cgroup v2 folder holding memory.max, memory.current and memory.stat; default /sys/fs/cgroup. */
  cgroupDir?: string;
}

/** Set to 1 to load whatever the figures say (they undercount where swap or another limit applies). */
export const SKIP_MEMORY_CHECK = 'RETORT_SKIP_MEMORY_CHECK';

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${Math.round(n / 2 ** 20)} MiB`;
  return n >= 1024 ? `${Math.round(n / 1024)} KiB` : `${n} bytes`;
}

function machineFree(): MemoryFigure {
  // macOS reports only never-used pages as free (a few hundred MB on a busy machine, however much the
  // kernel could reclaim), so there the machine's total is the only bound worth refusing on.
  if (platform() === 'darwin') return { bytes: totalmem(), source: 'the machine has' };
  return { bytes: freemem(), source: 'free memory (MemAvailable)' };
}

/** The cgroup v2 limit less its usage, page cache it can reclaim (inactive_file) not counted as used. */
function cgroupFree(dir: string): MemoryFigure | undefined {
  const read = (name: string) => {
    const path = join(dir, name);
    return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
  };
  const max = read('memory.max');
  if (max === undefined || max === 'max' || !/^\d+$/.test(max)) return undefined;
  const limit = Number(max);
  const current = Number(read('memory.current') ?? 0);
  const inactive = Number(/^inactive_file (\d+)$/m.exec(read('memory.stat') ?? '')?.[1] ?? 0);
  const used = Math.max(0, current - inactive);
  return {
    bytes: Math.max(0, limit - used),
    source: `the cgroup's memory.max ${formatBytes(limit)} less ${formatBytes(used)} in use`,
  };
}

/** The memory a load can count on: the smaller of the machine's figure and the cgroup's. */
export function availableMemory(o: MemoryOptions = {}): MemoryFigure {
  const machine = o.freeBytes === undefined ? machineFree() : { bytes: o.freeBytes, source: 'free memory' };
  const cgroup = cgroupFree(o.cgroupDir ?? '/sys/fs/cgroup');
  return cgroup && cgroup.bytes < machine.bytes ? cgroup : machine;
}

/**
 * Throws unless `needBytes` fit in the available memory. `what` opens the message ("loadHfModel: DIR holds
 * 1.5B parameters"); the rest says how much is needed, how much is free and what to do.
 */
export function assertFitsInMemory(needBytes: number, what: string, o: MemoryOptions = {}): void {
  if (process.env[SKIP_MEMORY_CHECK] === '1') return;
  const free = availableMemory(o);
  if (needBytes <= free.bytes) return;
  throw new Error(
    `${what}, which take ${formatBytes(needBytes)} as float32, but only ${formatBytes(free.bytes)} is available (${free.source}). Use a smaller model, free memory (close other programs), or run on a machine or container with more; ${SKIP_MEMORY_CHECK}=1 loads it anyway`,
  );
}
