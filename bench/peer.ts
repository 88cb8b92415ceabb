// Runs a PyTorch peer script in the same benchmark run, with the settings that give PyTorch its
// best CPU speed here, and parses its one JSON line. Returns null (with the reason) when Debian's
// python3-torch is not installed, so the benchmark still prints Retort's own figures.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { median } from './stats.ts';

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
  if (!py)
    return {
      ok: false,
      reason:
        'PyTorch is not installed (apt-get install python3-torch libopenblas0-pthread, or scripts/install-torch.sh)',
    };
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync(py, [script, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return { ok: false, reason: `peer failed (${r.status}): ${r.stderr.slice(-500)}` };
  const line = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (!line) return { ok: false, reason: `peer printed no JSON: ${r.stdout.slice(-300)}` };
  return { ok: true, figures: JSON.parse(line) };
}

export interface Round {
  retortS: number;
  /** The peer's figures this round, or why it did not run. */
  peer: PeerResult | { ok: false; reason: string } | null;
}

/**
 * Runs Retort's timing and the peer in turns, `rounds` times. The machine's speed drifts by tens of
 * percent over minutes, so a ratio taken within one round compares both sides under the same
 * conditions; the median over rounds is the figure to quote. Stops asking the peer once it fails.
 */
export async function interleave(
  rounds: number,
  noPeer: boolean | undefined,
  retort: () => Promise<number>,
  peer: () => PeerResult | { ok: false; reason: string },
): Promise<Round[]> {
  const out: Round[] = [];
  let peerDown = Boolean(noPeer);
  for (let r = 0; r < Math.max(1, rounds); r++) {
    const retortS = await retort();
    const p = peerDown ? null : peer();
    if (p && !p.ok) peerDown = true;
    out.push({ retortS, peer: p });
  }
  return out;
}

/**
 * Prints the peer's median step over the rounds and the per-round ratios (peer step ÷ Retort step,
 * i.e. Retort's tokens/s over the peer's); returns the peer's median step, or undefined without one.
 */
export function reportPeer(
  rounds: Round[],
  extra: (figures: Record<string, number | string>) => string,
  retortRssMb?: number,
): number | undefined {
  const failed = rounds.find((r) => r.peer && !r.peer.ok)?.peer as { ok: false; reason: string } | undefined;
  const ok = rounds.filter((r): r is Round & { peer: PeerResult } => r.peer?.ok === true);
  if (ok.length === 0) {
    console.log(`pytorch: skipped: ${failed?.reason ?? 'not asked (--no-peer)'}`);
    return undefined;
  }
  const steps = ok.map((r) => Number(r.peer.figures.step_s_median));
  const ratios = ok.map((r, i) => steps[i]! / r.retortS);
  const last = ok[ok.length - 1]!.peer.figures;
  const peerS = median(steps);
  console.log(
    `pytorch ${last.torch}: ${peerS.toFixed(3)} s/step (median of ${ok.length} rounds: ${steps.map((x) => x.toFixed(3)).join(', ')}), ${extra(last)}`,
  );
  const rss =
    retortRssMb !== undefined && last.peak_rss_mb !== undefined
      ? `, peak RSS ratio ${(retortRssMb / Number(last.peak_rss_mb)).toFixed(2)}`
      : '';
  console.log(
    `ratio: retort/pytorch tokens/s = ${median(ratios).toFixed(2)}x (median of rounds: ${ratios.map((x) => x.toFixed(2)).join(', ')})${rss}`,
  );
  return peerS;
}
