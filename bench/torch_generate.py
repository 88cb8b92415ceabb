#!/usr/bin/env python3
"""PyTorch peer for Retort's generation benchmark (bench/generate.ts).

Run with Debian's interpreter (the only one that can import Debian's torch):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 \\
        /usr/bin/python3 bench/torch_generate.py --weights DIR

DIR holds what bench/generate.ts writes: manifest.json (config, parameter names, shapes and offsets,
prompts) and weights.bin (float32, little-endian), so both sides run the very same model on the same
prompts. Model: GPT-2 as Retort builds it (Hugging Face GPT2LMHeadModel names and Conv1D layouts):
  wte + wpe; L pre-LN blocks x += attn(ln_1(x)); x += mlp(ln_2(x)); ln_f; LM head tied to wte.
  attn: c_attn (d -> 3d) -> H heads, causal softmax(q k^T / sqrt(hd)) v -> c_proj;
  mlp: c_fc (d -> 4d) -> GELU (tanh form) -> c_proj.
Generation is greedy. With the cache, keys and values are concatenated per step (as transformers
does); without it, the whole sequence so far is re-run for every token. Prompts of different
lengths are left-padded as transformers does for batched generation: each row's positions count
from its first real token and padded keys are masked out (a large negative score, not -inf, so a
padded query row that sees no real key stays finite).

Prints exactly one JSON line on stdout.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train_step import _openblas  # noqa: E402  (sizes OpenBLAS's pool; see there)


class Gpt2:
    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        self.h = cfg["nHeads"]
        self.eps = cfg.get("layerNormEps", 1e-5)

    def ln(self, x, name):
        return F.layer_norm(x, (x.shape[-1],), self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def conv1d(self, x, name):  # GPT-2's Conv1D: x @ W + b with W stored (in, out)
        return torch.addmm(self.w[name + ".bias"], x.reshape(-1, x.shape[-1]), self.w[name + ".weight"]).view(*x.shape[:-1], -1)

    def forward(self, ids, pos, keep=None, past=None):
        """ids, pos (B, T); keep None (no padding) or (B, S) bool over past and new keys."""
        B, T = ids.shape
        x = self.w["transformer.wte.weight"][ids] + self.w["transformer.wpe.weight"][pos]  # (B, T, d)
        present = []
        for i in range(self.cfg["nLayers"]):
            p = f"transformer.h.{i}"
            q, k, v = self.conv1d(self.ln(x, p + ".ln_1"), p + ".attn.c_attn").split(x.shape[-1], dim=2)
            hd = x.shape[-1] // self.h
            q, k, v = (t.view(B, T, self.h, hd).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
            if past is not None:
                k = torch.cat([past[i][0], k], dim=2)
                v = torch.cat([past[i][1], v], dim=2)
            present.append((k, v))
            S = k.shape[2]
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))  # (B, nh, T, S)
            if keep is not None:
                allowed = keep[:, None, None, :]
                if T > 1:
                    allowed = allowed & torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)
                att = att.masked_fill(~allowed, torch.finfo(att.dtype).min)
            elif T > 1:
                causal = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)
                att = att.masked_fill(~causal, float("-inf"))
            y = (F.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(B, T, -1)
            x = x + self.conv1d(y, p + ".attn.c_proj")
            h = F.gelu(self.conv1d(self.ln(x, p + ".ln_2"), p + ".mlp.c_fc"), approximate="tanh")
            x = x + self.conv1d(h, p + ".mlp.c_proj")
        x = self.ln(x, "transformer.ln_f")
        return x[:, -1] @ self.w["transformer.wte.weight"].T, present  # last position's logits (B, V)


def left_pad(prompts, pad_id=0):
    """Prompts (lists of ids) -> ids (B, T) left-padded, positions (B, T), keep (B, T) or None without padding."""
    T = max(len(p) for p in prompts)
    pads = torch.tensor([T - len(p) for p in prompts])
    ids = torch.tensor([[pad_id] * (T - len(p)) + list(p) for p in prompts], dtype=torch.long)
    pos = (torch.arange(T)[None, :] - pads[:, None]).clamp(min=0)
    keep = torch.arange(T)[None, :] >= pads[:, None] if bool(pads.any()) else None
    return ids, pos, keep


@torch.inference_mode()
def generate(model, prompts, n_new, use_cache):
    """Greedy; returns (tokens (B, n_new), seconds to the first token, per-step seconds after it, total seconds)."""
    t0 = time.perf_counter()
    ids, pos, keep = left_pad(prompts)
    logits, past = model.forward(ids, pos, keep)
    nxt = logits.argmax(-1)
    out = [nxt]
    last = pos[:, -1:]  # (B, 1)
    first = time.perf_counter() - t0
    steps = []
    for _ in range(n_new - 1):
        s = time.perf_counter()
        last = last + 1
        if keep is not None:
            keep = torch.cat([keep, torch.ones(keep.shape[0], 1, dtype=torch.bool)], dim=1)
        if use_cache:
            logits, past = model.forward(nxt[:, None], last, keep, past)
        else:
            ids, pos = torch.cat([ids, nxt[:, None]], dim=1), torch.cat([pos, last], dim=1)
            logits, _ = model.forward(ids, pos, keep)
        nxt = logits.argmax(-1)
        out.append(nxt)
        steps.append(time.perf_counter() - s)
    return torch.stack(out, dim=1), first, steps, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--cached-only", action="store_true", help="skip the no-cache run (later benchmark rounds)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    blas = _openblas()
    if blas is not None:
        blas.openblas_set_num_threads(args.threads)
    man = json.load(open(os.path.join(args.weights, "manifest.json")))
    raw = bytearray(open(os.path.join(args.weights, "weights.bin"), "rb").read())
    flat = torch.frombuffer(raw, dtype=torch.float32)
    w = {p["name"]: flat[p["offset"]:p["offset"] + math.prod(p["shape"])].view(*p["shape"]) for p in man["params"]}
    model = Gpt2(man["config"], w)
    n_new = man["newTokens"]
    res = {"torch": torch.__version__, "threads": args.threads}
    for b in man["batches"]:
        prompts = man["prompts"][:b]
        generate(model, prompts, n_new, True)  # untimed warm-up, full length as Retort's
        runs = [generate(model, prompts, n_new, True) for _ in range(args.repeats)]
        best = min(runs, key=lambda r: r[3])
        res[f"b{b}_tokens_per_s"] = b * n_new / best[3]
        res[f"b{b}_first_token_ms"] = best[1] * 1e3
        res[f"b{b}_step_ms_median"] = statistics.median(best[2]) * 1e3
        res[f"b{b}_tokens"] = best[0].tolist()
    if not args.cached_only:
        _, _, steps, _ = generate(model, man["prompts"][:1], n_new, False)
        res["b1_nocache_step_ms_mean"] = statistics.mean(steps) * 1e3
        res["b1_nocache_step_ms_last"] = statistics.median(steps[-8:]) * 1e3
    print(json.dumps(res))


if __name__ == "__main__":
    main()
