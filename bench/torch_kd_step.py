#!/usr/bin/env python3
"""PyTorch peer for Retort's KD-step benchmark: teacher forward (no grad) + student forward and
backward + AdamW with clipping, the loss being alpha*T^2*KL(teacher_T || student_T) + (1-alpha)*CE.
Models are the nanoGPT-style GPT of torch_train_step.py. Prints one JSON line.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 /usr/bin/python3 bench/torch_kd_step.py
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

if "--omp-spin" not in sys.argv:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch
import torch.nn.functional as F
from torch_train_step import GPT, _openblas


def logits_of(m, idx):
    B, T = idx.shape
    x = m.wte(idx) + m.wpe(torch.arange(T, dtype=torch.long))
    for blk in m.h:
        x = blk(x)
    return m.lm_head(m.ln_f(x))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--teacher", default="4,256,4")
    p.add_argument("--student", default="2,128,4")
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--ctx", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--temperature", type=float, default=2.0)
    p.add_argument("--omp-spin", action="store_true")
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    blas = _openblas()
    if blas is not None:
        blas.openblas_set_num_threads(a.threads)
    tl, td, th = map(int, a.teacher.split(","))
    sl, sd, sh = map(int, a.student.split(","))
    teacher = GPT(a.vocab, a.ctx, td, tl, th, False).eval()
    student = GPT(a.vocab, a.ctx, sd, sl, sh, False)
    opt = torch.optim.AdamW(student.parameters(), lr=3e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    x = torch.randint(0, a.vocab, (a.batch, a.ctx))
    y = torch.randint(0, a.vocab, (a.batch, a.ctx))
    T = a.temperature

    def step():
        with torch.no_grad():
            t_logits = logits_of(teacher, x)
        s_logits = logits_of(student, x)
        kd = F.kl_div(F.log_softmax(s_logits / T, -1), F.log_softmax(t_logits / T, -1), log_target=True, reduction="none").sum(-1).mean()
        ce = F.cross_entropy(s_logits.view(-1, a.vocab), y.view(-1))
        loss = a.alpha * T * T * kd + (1 - a.alpha) * ce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(3):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        "peer": "pytorch", "torch": torch.__version__, "threads": a.threads,
        "step_s_median": med, "step_s_mean": statistics.mean(times), "tokens_per_s": a.batch * a.ctx / med,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }), flush=True)


if __name__ == "__main__":
    main()
