#!/usr/bin/env python3
"""PyTorch peer for Retort's KD-step benchmark: teacher forward (no grad) + student forward and
backward + AdamW with clipping, the loss being alpha*T^2*KL(teacher_T || student_T) + (1-alpha)*CE.
Models are the nanoGPT-style GPT of torch_train_step.py. Prints one JSON line.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 /usr/bin/python3 bench/torch_kd_step.py

With --batch-file (bench/task-kd-step.ts writes it: JSON input_ids, labels, attention_mask, each
B rows of T) the step runs on that task batch instead of random tokens: attention is the causal
mask and the padding mask together (padded keys dropped) in teacher and student, and both loss
terms are averaged over the labelled positions only (labels -100 on prompts and padding).
With --weights DIR (manifest.json: teacher and student parameter lists with Hugging Face GPT-2
names, shapes and offsets into weights.bin, float32) both models start from those weights, so
the first step's loss can be compared with Retort's.
"""
import argparse
import json
import math
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


def masked_attention(attn, x, keep):
    """torch_train_step's CausalSelfAttention with a (B, 1, T, T) keep-mask in place of its causal one."""
    B, T, C = x.shape
    hd = C // attn.n_head
    q, k, v = (t.view(B, T, attn.n_head, hd).transpose(1, 2) for t in attn.c_attn(x).split(attn.d, dim=2))  # (B, nh, T, hs)
    att = ((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))).masked_fill(~keep, float("-inf"))  # (B, nh, T, T)
    y = (F.softmax(att, dim=-1) @ v).transpose(1, 2).contiguous().view(B, T, C)
    return attn.c_proj(y)


def logits_of(m, idx, keep=None):
    """keep: None (causal only) or (B, 1, T, T) bool, causal and padding together."""
    B, T = idx.shape
    x = m.wte(idx) + m.wpe(torch.arange(T, dtype=torch.long))
    for blk in m.h:
        if keep is None:
            x = blk(x)
        else:
            x = x + masked_attention(blk.attn, blk.ln_1(x), keep)
            x = x + blk.mlp(blk.ln_2(x))
    return m.lm_head(m.ln_f(x))


def load_gpt2(m, entries, flat):
    """Hugging Face GPT-2 names and Conv1D (in, out) layouts -> torch_train_step's GPT (Linear (out, in))."""
    sd = {}
    for e in entries:
        t = flat[e["offset"]:e["offset"] + math.prod(e["shape"])].view(*e["shape"])
        name = e["name"].removeprefix("transformer.")
        if name.endswith(("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")):
            t = t.T
        sd[name] = t.contiguous()
    sd["lm_head.weight"] = sd["wte.weight"]  # tied
    m.load_state_dict(sd, strict=True)


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
    p.add_argument("--batch-file", help="a task batch (input_ids, labels, attention_mask) to train on; sets --batch and --ctx")
    p.add_argument("--weights", help="a directory with both models' starting weights (see above)")
    p.add_argument("--omp-spin", action="store_true")
    a = p.parse_args()
    keep = labelled = None
    if a.batch_file:
        with open(a.batch_file) as f:
            data = json.load(f)
        x, y, mask = (torch.tensor(data[k], dtype=torch.long) for k in ("input_ids", "labels", "attention_mask"))  # (B, T) each
        a.batch, a.ctx = x.shape
        causal = torch.ones(a.ctx, a.ctx, dtype=torch.bool).tril()
        keep = causal[None, None] & (mask != 0)[:, None, None, :]  # (B, 1, T, S): earlier real keys only
        labelled = y != -100  # (B, T)
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    blas = _openblas()
    if blas is not None:
        blas.openblas_set_num_threads(a.threads)
    tl, td, th = map(int, a.teacher.split(","))
    sl, sd, sh = map(int, a.student.split(","))
    teacher = GPT(a.vocab, a.ctx, td, tl, th, False).eval()
    student = GPT(a.vocab, a.ctx, sd, sl, sh, False)
    if a.weights:
        with open(os.path.join(a.weights, "manifest.json")) as f:
            man = json.load(f)
        with open(os.path.join(a.weights, "weights.bin"), "rb") as f:
            flat = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
        load_gpt2(teacher, man["teacher"], flat)
        load_gpt2(student, man["student"], flat)
    opt = torch.optim.AdamW(student.parameters(), lr=3e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    if not a.batch_file:
        x = torch.randint(0, a.vocab, (a.batch, a.ctx))
        y = torch.randint(0, a.vocab, (a.batch, a.ctx))
    T = a.temperature

    def step():
        with torch.no_grad():
            t_logits = logits_of(teacher, x, keep)
        s_logits = logits_of(student, x, keep)
        kl = F.kl_div(F.log_softmax(s_logits / T, -1), F.log_softmax(t_logits / T, -1), log_target=True, reduction="none").sum(-1)  # (B, T)
        kd = kl.mean() if labelled is None else torch.where(labelled, kl, torch.zeros(())).sum() / labelled.sum().clamp(min=1)
        ce = F.cross_entropy(s_logits.view(-1, a.vocab), y.view(-1))  # ignore_index -100: mean over labelled positions
        loss = a.alpha * T * T * kd + (1 - a.alpha) * ce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        return loss.item()

    first_loss = step()
    for _ in range(2):
        warm_loss = step()
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
        "teacher_params": sum(p.numel() for p in teacher.parameters()), "student_params": sum(p.numel() for p in student.parameters()),
        "first_loss": first_loss, "loss": warm_loss,
    }), flush=True)


if __name__ == "__main__":
    main()
