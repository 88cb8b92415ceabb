#!/usr/bin/env python3
"""PyTorch peer for Retort's scale benchmark (bench/scale.ts): a Qwen2 teacher and student loaded from
the Hugging Face folders the benchmark writes (safetensors, BF16 or F32, read here without the
safetensors package), run in float32 on the same batches. Prints one JSON line.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 /usr/bin/python3 bench/torch_scale.py \\
        --work DIR --config kd --batch 4 --seq 128

Configurations (--config):
  labelling  teacher forward + log_softmax + topk under torch.no_grad (what `retort label` computes);
             --dump FILE writes the first batch's top-k ids (int32) and log-probs (float32).
  kd         teacher forward (no grad), student forward and backward, dense logit KD + CE:
             alpha*T^2*KL(teacher_T || student_T) + (1-alpha)*CE, global-norm clipping at 1, AdamW.
  store      the same step with the teacher's stored top-k targets in place of the teacher (the
             arrays Retort's StoreTeacher returns, dumped to DIR/targets-BxT.bin by the benchmark):
             top-k KD over k + 1 buckets (the k ids and the rest, the rest's mass from the stored
             tail), as src/distill/losses/topk.ts defines it.
The work folder holds teacher/ and student/ (Hugging Face folders) and ids-BxT.i32: (B, T + 1) int32
token ids, inputs [:, :T] and labels [:, 1:].
"""
import argparse
import json
import math
import os
import resource
import statistics
import struct
import sys
import time

if "--omp-spin" not in sys.argv:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_train_step import _openblas


def read_safetensors(path):
    """Yields (name, dtype, shape, bytes) one tensor at a time."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        start = 8 + n
        for name, e in header.items():
            if name == "__metadata__":
                continue
            b, end = e["data_offsets"]
            f.seek(start + b)
            yield name, e["dtype"], e["shape"], bytearray(f.read(end - b))


def fill(param, dtype, raw, where):
    """Writes F32 or BF16 bytes into a float32 parameter in place (no float32 copy of the tensor)."""
    with torch.no_grad():
        if dtype == "F32":
            param.view(-1).copy_(torch.frombuffer(raw, dtype=torch.float32))
        elif dtype == "BF16":
            # bfloat16 is the high half of a float32: widen the bit patterns, then shift them up.
            bits = param.view(-1).view(torch.int32)
            bits.copy_(torch.frombuffer(raw, dtype=torch.int16))
            bits <<= 16
        else:
            raise SystemExit(f"{where}: dtype {dtype}; this peer reads F32 and BF16")


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h, self.hkv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], c["hidden_size"] // c["num_attention_heads"]
        d = c["hidden_size"]
        self.q_proj = nn.Linear(d, self.h * self.hd)
        self.k_proj = nn.Linear(d, self.hkv * self.hd)
        self.v_proj = nn.Linear(d, self.hkv * self.hd)
        self.o_proj = nn.Linear(self.h * self.hd, d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.h, self.hd).transpose(1, 2)  # (B, H, T, hd)
        k = self.k_proj(x).view(B, T, self.hkv, self.hd).transpose(1, 2)  # (B, Hkv, T, hd)
        v = self.v_proj(x).view(B, T, self.hkv, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        n = self.h // self.hkv
        k, v = k.repeat_interleave(n, dim=1), v.repeat_interleave(n, dim=1)  # (B, H, T, hd)
        att = ((q * (1.0 / math.sqrt(self.hd))) @ k.transpose(-2, -1)) + mask  # (B, H, T, T)
        y = (F.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(B, T, self.h * self.hd)
        return self.o_proj(y)


class Mlp(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.gate_proj = nn.Linear(d, hidden, bias=False)
        self.up_proj = nn.Linear(d, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = Mlp(c["hidden_size"], c["intermediate_size"])

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


def rope(x, cos, sin):
    """Hugging Face's rotate_half convention: x*cos + [-x2, x1]*sin."""
    h = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., h:], x[..., :h]], -1) * sin


class Qwen2(nn.Module):
    """Qwen2ForCausalLM with tied embeddings, parameter names as in its checkpoints."""

    def __init__(self, c):
        super().__init__()
        if not c.get("tie_word_embeddings"):
            raise SystemExit("this peer builds tied-embedding Qwen2 models only")
        self.c = c
        self.model = Body(c)
        hd = c["hidden_size"] // c["num_attention_heads"]
        self.inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))

    def forward(self, ids):
        B, T = ids.shape
        freqs = torch.outer(torch.arange(T, dtype=torch.float32), self.inv_freq)  # (T, hd/2)
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos(), emb.sin()  # (T, hd)
        mask = torch.full((T, T), -1e9).triu(1)  # additive causal mask
        x = self.model.embed_tokens(ids)  # (B, T, C)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        return self.model.norm(x) @ self.model.embed_tokens.weight.t()  # (B, T, V), tied head


def load_qwen2(folder):
    with open(os.path.join(folder, "config.json")) as f:
        c = json.load(f)
    m = Qwen2(c)
    params = dict(m.named_parameters())
    seen = set()
    # One tensor at a time, straight into the model's own storage: loading holds one model.
    for name, dtype, shape, raw in read_safetensors(os.path.join(folder, "model.safetensors")):
        if name not in params or list(params[name].shape) != shape:
            raise SystemExit(f"{folder}: tensor {name} {shape} does not fit the model")
        fill(params[name], dtype, raw, f"{folder}: {name}")
        seen.add(name)
    if seen != set(params):
        raise SystemExit(f"{folder}: missing {sorted(set(params) - seen)}")
    return m


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_i32(path, shape):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.int32).reshape(shape).long()


def read_targets(path, B, T, k):
    """ids (B, T, k) int32, logprobs (B, T, k) float32, tail (B, T, 1) float32, back to back."""
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    n = B * T * k
    ids = torch.frombuffer(raw, dtype=torch.int32, count=n).reshape(B, T, k).long()
    lp = torch.frombuffer(raw, dtype=torch.float32, count=n, offset=4 * n).reshape(B, T, k).clone()
    tail = torch.frombuffer(raw, dtype=torch.float32, count=B * T, offset=8 * n).reshape(B, T, 1).clone()
    return ids, lp, tail


def topk_kd(s_logits, ids, lp, tail, T, eps):
    """topk.ts: teacher and student over the k ids plus a rest bucket; mean KL over positions."""
    rest = torch.log(torch.exp(tail).clamp(eps, 1 - eps))  # (B, T, 1)
    t_b = torch.cat([F.log_softmax(lp / T, -1) + torch.log(1 - torch.exp(rest)), rest], -1)  # (B, T, k+1)
    at = F.log_softmax(s_logits / T, -1).gather(-1, ids)  # (B, T, k)
    s_b = torch.cat([at, torch.log((1 - at.exp().sum(-1, keepdim=True)).clamp(min=eps))], -1)
    return (t_b.exp() * (t_b - s_b)).sum(-1).mean()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--config", choices=["labelling", "kd", "store"], required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--seq", type=int, required=True)
    p.add_argument("--top-k", type=int, default=20)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--temperature", type=float, default=2.0)
    p.add_argument("--rest-eps", type=float, default=1e-6)
    p.add_argument("--dump", help="labelling: write the first batch's top-k ids and log-probs here")
    p.add_argument("--omp-spin", action="store_true")
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    blas = _openblas()
    if blas is not None:
        blas.openblas_set_num_threads(a.threads)
    B, T, k = a.batch, a.seq, a.top_k
    rows = read_i32(os.path.join(a.work, f"ids-{B}x{T}.i32"), (B, T + 1))
    x, y = rows[:, :T].contiguous(), rows[:, 1:].contiguous()  # (B, T) each
    out = {"peer": "pytorch", "torch": torch.__version__, "threads": a.threads}

    if a.config == "labelling":
        teacher = load_qwen2(os.path.join(a.work, "teacher")).eval()
        for prm in teacher.parameters():
            prm.requires_grad_(False)
        out["load_peak_rss_mb"] = peak_rss_mb()

        def label():
            with torch.no_grad():
                return torch.topk(F.log_softmax(teacher(x), -1), k, dim=-1)  # values, indices (B, T, k)

        first = label()
        if a.dump:
            with open(a.dump, "wb") as f:
                f.write(first.indices.to(torch.int32).numpy().tobytes())
                f.write(first.values.to(torch.float32).numpy().tobytes())
        times = []
        for _ in range(a.steps):
            t0 = time.perf_counter()
            label()
            times.append(time.perf_counter() - t0)
        out["teacher_params"] = sum(q.numel() for q in teacher.parameters())
    else:
        student = load_qwen2(os.path.join(a.work, "student"))
        decay = [q for q in student.parameters() if q.dim() >= 2]
        rest = [q for q in student.parameters() if q.dim() < 2]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
            lr=3e-4, betas=(0.9, 0.95), eps=1e-8,
        )
        Tk = a.temperature
        V = student.c["vocab_size"]
        if a.config == "kd":
            teacher = load_qwen2(os.path.join(a.work, "teacher")).eval()
            for prm in teacher.parameters():
                prm.requires_grad_(False)
            out["teacher_params"] = sum(q.numel() for q in teacher.parameters())
            out["load_peak_rss_mb"] = peak_rss_mb()

            def soft(s_logits):
                with torch.no_grad():
                    t_logp = F.log_softmax(teacher(x) / Tk, -1)  # (B, T, V)
                s_logp = F.log_softmax(s_logits / Tk, -1)
                return F.kl_div(s_logp.view(-1, V), t_logp.view(-1, V), log_target=True, reduction="batchmean")
        else:
            ids, lp, tail = read_targets(os.path.join(a.work, f"targets-{B}x{T}.bin"), B, T, k)
            out["load_peak_rss_mb"] = peak_rss_mb()

            def soft(s_logits):
                return topk_kd(s_logits, ids, lp, tail, Tk, a.rest_eps)

        def step():
            s_logits = student(x)  # (B, T, V)
            kd = soft(s_logits)
            ce = F.cross_entropy(s_logits.view(-1, V), y.view(-1))
            loss = a.alpha * Tk * Tk * kd + (1 - a.alpha) * ce
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            opt.step()
            return loss.item()

        out["first_loss"] = step()
        out["loss"] = step()  # the second step's: the first update applied
        times = []
        for _ in range(a.steps):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        out["student_params"] = sum(q.numel() for q in student.parameters())
    med = statistics.median(times)
    out.update({
        "step_s_median": med, "step_s_mean": statistics.mean(times), "tokens_per_s": B * T / med,
        "peak_rss_mb": peak_rss_mb(),
    })
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
