#!/usr/bin/env python3
"""PyTorch peer for Retort's training-step benchmark.

Run with Debian's interpreter (the only one that can import Debian's torch):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 \
        /usr/bin/python3 bench/torch_train_step.py [--sdpa]

Model (must match what Retort builds): nanoGPT-style causal LM.
  wte (vocab, d) + wpe (ctx, d); L pre-LN blocks
    x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))
  attn: c_attn Linear(d, 3d, bias) -> q,k,v -> H heads -> causal
        softmax(q k^T / sqrt(hd)) v (explicit masked_fill + softmax by
        default; --sdpa uses F.scaled_dot_product_attention if present)
        -> c_proj Linear(d, d, bias)
  mlp:  c_fc Linear(d, 4d, bias) -> GELU (exact erf) -> c_proj Linear(4d, d, bias)
  ln_f; lm_head Linear(d, vocab, bias=False) tied to wte. No dropout.
Loss: mean cross-entropy over all B*T positions.
Optimizer: AdamW(lr=3e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
applied to all parameters (no decay/no-decay split), then global-norm
clipping at 1.0 (clip before step).
Init: normal(0, 0.02) for Linear/Embedding weights, zero biases, LayerNorm
weight=1 bias=0.

Threading: torch.set_num_threads(--threads); OpenBLAS pool sized to
--blas-threads (default = --threads) via openblas_set_num_threads, because
Debian's torch doesn't forward its thread count to OpenBLAS; OMP_WAIT_POLICY
defaults to PASSIVE (see below; --omp-spin to keep libgomp's default).

Prints exactly one JSON line on stdout. With --sdpa on a torch that lacks
F.scaled_dot_product_attention (torch < 2.0, e.g. Debian's 1.13), it falls
back to the explicit path and reports "attn":"manual" plus
"sdpa_available":false.
"""

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

# libgomp reads OMP_WAIT_POLICY once, when torch loads it, so decide before
# importing torch. Default here is PASSIVE: with torch's OpenMP pool plus
# OpenBLAS's own pthread pool on a small, shared box, spinning OpenMP workers
# steal the cores OpenBLAS needs (measured on the 2-vCPU dev box: median
# 3.5-6 s/step spinning vs 0.8-1.6 s passive under load). --omp-spin restores
# libgomp's default. An explicit OMP_WAIT_POLICY in the environment wins.
if "--omp-spin" not in sys.argv:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn as nn
import torch.nn.functional as F

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


class CausalSelfAttention(nn.Module):
    def __init__(self, d, n_head, ctx, use_sdpa):
        super().__init__()
        assert d % n_head == 0
        self.n_head = n_head
        self.d = d
        self.c_attn = nn.Linear(d, 3 * d, bias=True)
        self.c_proj = nn.Linear(d, d, bias=True)
        self.use_sdpa = use_sdpa
        self.register_buffer(
            "mask",
            torch.tril(torch.ones(ctx, ctx, dtype=torch.bool)).view(1, 1, ctx, ctx),
            persistent=False,
        )

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.d, dim=2)
        hd = C // self.n_head
        q = q.view(B, T, self.n_head, hd).transpose(1, 2)
        k = k.view(B, T, self.n_head, hd).transpose(1, 2)
        v = v.view(B, T, self.n_head, hd).transpose(1, 2)
        if self.use_sdpa:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
            att = F.softmax(att, dim=-1)
            y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_fc = nn.Linear(d, 4 * d, bias=True)
        self.gelu = nn.GELU()  # exact erf form
        self.c_proj = nn.Linear(4 * d, d, bias=True)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, d, n_head, ctx, use_sdpa):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)  # eps 1e-5, affine with bias
        self.attn = CausalSelfAttention(d, n_head, ctx, use_sdpa)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = MLP(d)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    def __init__(self, vocab, ctx, d, n_layer, n_head, use_sdpa):
        super().__init__()
        self.ctx = ctx
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(ctx, d)
        self.h = nn.ModuleList([Block(d, n_head, ctx, use_sdpa) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets):
        B, T = idx.shape
        pos = torch.arange(T, dtype=torch.long)
        x = self.wte(idx) + self.wpe(pos)
        for blk in self.h:
            x = blk(x)
        x = self.ln_f(x)
        logits = self.lm_head(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return loss


def _openblas():
    """ctypes handle to the OpenBLAS torch actually loaded, or None.

    Debian's torch is built with BLAS_INFO=generic: it calls plain
    libblas.so.3 (update-alternatives -> OpenBLAS pthread variant) and does
    NOT forward torch.set_num_threads to OpenBLAS, which runs its own
    pthread pool sized to all cores. That pool plus torch's OpenMP pool
    oversubscribes the cores, so we size it explicitly.
    """
    import ctypes
    try:
        paths = sorted({l.split()[-1] for l in open("/proc/self/maps") if "openblas" in l and ".so" in l})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_num_threads
            lib.openblas_get_config.restype = ctypes.c_char_p
            return lib
        except (OSError, AttributeError):
            continue
    return None


def peak_rss_mb():
    # Linux reports ru_maxrss in KiB (macOS in bytes).
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        return r / (1024 * 1024)
    return r / 1024


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--ctx", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--blas-threads", type=int, default=None,
                   help="OpenBLAS pthread pool size (default: same as --threads; 0 = leave OpenBLAS's own default)")
    p.add_argument("--omp-spin", action="store_true",
                   help="do not default OMP_WAIT_POLICY to PASSIVE (libgomp's default spinning)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--forward-only", action="store_true",
                   help="time the forward pass and loss alone, under torch.no_grad (no backward, no update)")
    p.add_argument("--sdpa", action="store_true",
                   help="use F.scaled_dot_product_attention (torch>=2.0); falls back to the manual path if absent")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    blas = _openblas()
    blas_threads = args.threads if args.blas_threads is None else args.blas_threads
    if blas is not None and blas_threads > 0:
        blas.openblas_set_num_threads(blas_threads)
    torch.manual_seed(args.seed)

    use_sdpa = bool(args.sdpa and HAS_SDPA)
    model = GPT(args.vocab, args.ctx, args.d_model, args.layers, args.heads, use_sdpa)
    model.train()
    # parameters() de-duplicates the tied wte/lm_head weight.
    n_params = sum(p.numel() for p in model.parameters())

    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)

    g = torch.Generator().manual_seed(args.seed + 1)
    # One fixed batch of random tokens (inputs and next-token targets).
    data = torch.randint(0, args.vocab, (args.batch, args.ctx + 1), generator=g)
    x = data[:, :-1].contiguous()
    y = data[:, 1:].contiguous()

    def forward():
        with torch.no_grad():
            return model(x, y).item()

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    step = forward if args.forward_only else train_step
    if args.forward_only:
        model.eval()
    losses = []
    for _ in range(args.warmup):
        losses.append(step())

    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t0)

    med = statistics.median(times)
    mean = statistics.fmean(times)
    out = {
        "peer": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas.openblas_get_config().decode() if blas is not None else "unknown",
        "blas_threads": blas.openblas_get_num_threads() if blas is not None else None,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "attn": "sdpa" if use_sdpa else "manual",
        "variant": "forward only" if args.forward_only else None,
        "sdpa_requested": bool(args.sdpa),
        "sdpa_available": HAS_SDPA,
        "layers": args.layers,
        "d_model": args.d_model,
        "heads": args.heads,
        "vocab": args.vocab,
        "ctx": args.ctx,
        "batch": args.batch,
        "steps": args.steps,
        "warmup": args.warmup,
        "step_s_median": round(med, 6),
        "step_s_mean": round(mean, 6),
        "step_s_min": round(min(times), 6),
        "tokens_per_s": round(args.batch * args.ctx / med, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "params": n_params,
        "loss_first": round(losses[0], 6),
        "loss_last": round(losses[-1], 6),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
