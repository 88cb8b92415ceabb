// Runs a PyTorch peer script in the same benchmark run, with the settings that give PyTorch its
// best CPU speed here, and parses its one JSON line. Returns null (with the reason) when Debian's
// python3-torch is not installed, so the benchmark still prints Retort's own figures.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface PeerResult {
  ok: true;
  figures: Record<string, number | string>;
}

const PYTHONS = ['/usr/bin/python3', 'python3'];

export function findTorchPython(): string | null {
  for (const py of PYTHONS) {
    if (py.startsWith('/') && !existsSync(py)) continue;
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

export function runPeer(script: string, args: string[], threads: number): PeerResult | { ok: false; reason: string } {
  const py = findTorchPython();
  if (!py) return { ok: false, reason: 'PyTorch is not installed (apt-get install python3-torch libopenblas0-pthread, or scripts/install-torch.sh)' };
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync(py, [script, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return { ok: false, reason: `peer failed (${r.status}): ${r.stderr.slice(-500)}` };
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) return { ok: false, reason: `peer printed no JSON: ${r.stdout.slice(-300)}` };
  return { ok: true, figures: JSON.parse(line) };
}
