#!/usr/bin/env python3
"""Float64 reference forward pass for llama, qwen2 and gemma3 GGUF models (numpy only).

An independent implementation written from the model definition, for golden
data: every weight is dequantised with gguf.quants.dequantize and all the
arithmetic is done in float64.

  - RMSNorm, eps = llama.attention.layer_norm_rms_epsilon
  - RoPE in llama.cpp's NORM mode (the one it uses for arch "llama"):
    adjacent pairs (x[2i], x[2i+1]) of each head rotated by
    pos * base^(-2i/n_rot), base = llama.rope.freq_base. GGUF files converted
    from HF llama checkpoints carry q/k weights permuted so that this mode is
    right (HF itself rotates the halves, x[i] with x[i + d/2]).
  - grouped-query attention (query head h uses kv head h // (n_head/n_kv)),
    causal, scale 1/sqrt(head_dim)
  - SwiGLU feed-forward: down(silu(gate(x)) * up(x))
  - output = output.weight, or token_embd.weight when absent (tied)
  - qwen2: q/k/v biases; RoPE in NEOX mode (x[i] with x[i + n_rot/2])
  - gemma3 (as llama.cpp's src/models/gemma3.cpp builds it): embeddings
    times sqrt(n_embd); head size gemma3.attention.key_length; RMSNorm of
    each q and k head (attn_q_norm, attn_k_norm) before NEOX RoPE; q scaled
    by 1/sqrt(head size); RMSNorm of the attention output
    (post_attention_norm) and of the FFN output (post_ffw_norm) before each
    residual add; GELU (tanh form) gate; layers with il % 6 < 5 are
    sliding-window layers (a query at p sees keys at p' with p - p' < window)
    with RoPE base 10000, the others global with gemma3.rope.freq_base

Usage as a library:
    m = Model(path); steps = m.greedy(prompt_ids, 32)
Usage from the command line (writes the f64 goldens, see --help):
    python reference/forward_f64.py --goldens
"""
import argparse
import json
import math
import os
import struct
import sys
import time
from importlib.metadata import version

import numpy as np
import gguf

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
GREEDY_DIR = os.path.join(ROOT, "Tests", "Fixtures", "greedy")
# The other models' goldens: llamacpp-NAME.json in, f64-NAME.json out.
MODELS = {
    "qwen2.5-coder-0.5b": os.path.join(ROOT, "models", "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf"),
    "gemma3-270m": os.path.join(ROOT, "models", "gemma-3-270m-Q4_K_M.gguf"),
}


def _field(reader, key, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


class Model:
    def __init__(self, path, rope_mode=None):
        r = gguf.GGUFReader(path)
        arch = _field(r, "general.architecture")
        self.arch = arch
        self.n_layer = int(_field(r, f"{arch}.block_count"))
        self.n_embd = int(_field(r, f"{arch}.embedding_length"))
        self.n_head = int(_field(r, f"{arch}.attention.head_count"))
        self.n_kv = int(_field(r, f"{arch}.attention.head_count_kv", self.n_head))
        self.head_dim = int(_field(r, f"{arch}.attention.key_length", self.n_embd // self.n_head))
        self.n_rot = int(_field(r, f"{arch}.rope.dimension_count", self.head_dim))
        self.eps = float(_field(r, f"{arch}.attention.layer_norm_rms_epsilon"))
        self.base = float(_field(r, f"{arch}.rope.freq_base", 10000.0))
        self.rope_mode = rope_mode or ("norm" if arch in ("llama", "smollm", "mistral") else "neox")
        self.gemma = arch == "gemma3"
        window = int(_field(r, f"{arch}.attention.sliding_window", 0))
        # per layer: (rope base, window or None)
        self.layer_attn = [(10000.0, window) if self.gemma and window and il % 6 < 5 else (self.base, None)
                           for il in range(self.n_layer)]
        tensors = {t.name: t for t in r.tensors}

        def w(name):
            t = tensors[name]
            # numpy shape is (ne1, ne0) = (out, in) for a matrix
            return gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float64)

        self.tok_embd = w("token_embd.weight")
        self.output = w("output.weight") if "output.weight" in tensors else self.tok_embd
        self.tied = "output.weight" not in tensors
        self.output_norm = w("output_norm.weight")
        self.layers = []
        for i in range(self.n_layer):
            p = f"blk.{i}."
            names = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                     "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
            if self.gemma:
                names += ["attn_q_norm", "attn_k_norm", "post_attention_norm", "post_ffw_norm"]
            L = {k: w(p + k + ".weight") for k in names}
            for b in ("attn_q", "attn_k", "attn_v"):       # Qwen2-style biases
                if p + b + ".bias" in tensors:
                    L[b + ".bias"] = w(p + b + ".bias")
            self.layers.append(L)
        self.n_vocab = self.output.shape[0]
        # inverse frequencies: base^(-2i/n_rot), i = 0 .. n_rot/2-1

    def inv_freq(self, base):
        return base ** (-np.arange(0, self.n_rot, 2, dtype=np.float64) / self.n_rot)

    def rmsnorm(self, x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * weight

    def rope(self, x, positions, base):
        """x: (T, heads, head_dim); rotates the first n_rot dims of each head."""
        ang = positions[:, None].astype(np.float64) * self.inv_freq(base)[None, :]   # (T, n_rot/2)
        cos = np.cos(ang)[:, None, :]
        sin = np.sin(ang)[:, None, :]
        out = x.copy()
        if self.rope_mode == "norm":       # pairs (2i, 2i+1)
            a = x[..., 0:self.n_rot:2]
            b = x[..., 1:self.n_rot:2]
            out[..., 0:self.n_rot:2] = a * cos - b * sin
            out[..., 1:self.n_rot:2] = a * sin + b * cos
        elif self.rope_mode == "neox":     # pairs (i, i + n_rot/2)
            h = self.n_rot // 2
            a = x[..., 0:h]
            b = x[..., h:self.n_rot]
            out[..., 0:h] = a * cos - b * sin
            out[..., h:self.n_rot] = a * sin + b * cos
        else:
            raise ValueError(self.rope_mode)
        return out

    def new_cache(self):
        return [{"k": np.zeros((0, self.n_kv, self.head_dim)),
                 "v": np.zeros((0, self.n_kv, self.head_dim))} for _ in range(self.n_layer)]

    def forward(self, tokens, cache, start):
        """Runs tokens at positions start.. ; appends to cache; returns logits
        of the last position (float64, n_vocab)."""
        T = len(tokens)
        pos = np.arange(start, start + T)
        x = self.tok_embd[np.asarray(tokens)]                       # (T, d)
        if self.gemma:
            x = x * math.sqrt(self.n_embd)
        group = self.n_head // self.n_kv
        scale = 1.0 / math.sqrt(self.head_dim)
        for L, C, (base, window) in zip(self.layers, cache, self.layer_attn):
            h = self.rmsnorm(x, L["attn_norm"])
            q = h @ L["attn_q"].T
            k = h @ L["attn_k"].T
            v = h @ L["attn_v"].T
            if "attn_q.bias" in L:
                q = q + L["attn_q.bias"]
            if "attn_k.bias" in L:
                k = k + L["attn_k.bias"]
            if "attn_v.bias" in L:
                v = v + L["attn_v.bias"]
            q = q.reshape(T, self.n_head, self.head_dim)
            k = k.reshape(T, self.n_kv, self.head_dim)
            if self.gemma:
                q = self.rmsnorm(q, L["attn_q_norm"])
                k = self.rmsnorm(k, L["attn_k_norm"])
            q = self.rope(q, pos, base)
            k = self.rope(k, pos, base)
            v = v.reshape(T, self.n_kv, self.head_dim)
            C["k"] = np.concatenate([C["k"], k])
            C["v"] = np.concatenate([C["v"], v])
            S = C["k"].shape[0]
            kk = np.repeat(C["k"], group, axis=1)                   # (S, n_head, hd)
            vv = np.repeat(C["v"], group, axis=1)
            scores = np.einsum("thd,shd->hts", q, kk) * scale       # (n_head, T, S)
            mask = np.arange(S)[None, :] > pos[:, None]              # key after query
            if window:
                mask |= pos[:, None] - np.arange(S)[None, :] >= window
            scores = np.where(mask[None], -np.inf, scores)
            scores -= scores.max(axis=-1, keepdims=True)
            p = np.exp(scores)
            p /= p.sum(axis=-1, keepdims=True)
            att = np.einsum("hts,shd->thd", p, vv).reshape(T, self.n_head * self.head_dim)
            a = att @ L["attn_output"].T
            if self.gemma:
                a = self.rmsnorm(a, L["post_attention_norm"])
            x = x + a
            h = self.rmsnorm(x, L["ffn_norm"])
            g = h @ L["ffn_gate"].T
            u = h @ L["ffn_up"].T
            if self.gemma:
                act = 0.5 * g * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (g + 0.044715 * g ** 3)))
            else:
                act = g / (1.0 + np.exp(-g))
            f = (act * u) @ L["ffn_down"].T
            if self.gemma:
                f = self.rmsnorm(f, L["post_ffw_norm"])
            x = x + f
        x = self.rmsnorm(x[-1], self.output_norm)
        return self.output @ x

    def greedy(self, prompt_ids, n_new):
        """Greedy decoding. Returns a list of per-step float64 logit vectors;
        step i's logits chose generated token i (argmax, lowest id on ties)."""
        cache = self.new_cache()
        logits = self.forward(list(prompt_ids), cache, 0)
        steps = [logits]
        pos = len(prompt_ids)
        for _ in range(n_new - 1):
            tok = int(np.argmax(logits))
            logits = self.forward([tok], cache, pos)
            pos += 1
            steps.append(logits)
        return steps


def log_softmax(z):
    m = z.max()
    return z - m - math.log(np.exp(z - m).sum())


def make_goldens(model_path, n_new, name=None):
    """name None: the default model (f64.json + f64-first-logits.bin); else
    MODELS[name] (f64-NAME.json, with every (vocab // 1024)-th first-step
    logit inline instead of a binary file)."""
    src = os.path.join(GREEDY_DIR, "llamacpp.json" if name is None else f"llamacpp-{name}.json")
    with open(src, encoding="utf-8") as f:
        lc = json.load(f)
    t0 = time.time()
    m = Model(model_path)
    t_load = time.time() - t0
    out_cases = []
    first = []
    report = []
    for case in lc["cases"]:
        t1 = time.time()
        steps = m.greedy(case["prompt_ids"], n_new)
        gen, recs = [], []
        for z in steps:
            order = np.argsort(-z, kind="stable")
            top = order[:16]
            ls = log_softmax(z)
            recs.append({
                "id": int(order[0]),
                "margin": float(z[order[0]] - z[order[1]]),
                "top16": [[int(i), float(z[i])] for i in top],
                "top2_logprob": [[int(i), float(ls[i])] for i in order[:2]],
            })
            gen.append(int(order[0]))
        first.append(steps[0].astype("<f4"))
        out_cases.append({"name": case["name"], "prompt_ids": case["prompt_ids"],
                          "generated_ids": gen, "steps": recs})
        if name is not None:
            stride = m.n_vocab // 1024
            out_cases[-1]["first_logits_sample"] = [float(v) for v in steps[0][::stride]]
        lc_gen = case["generated_ids"][:n_new]
        diverge = next((i for i, (a, b) in enumerate(zip(gen, lc_gen)) if a != b), None)
        report.append((case["name"], diverge, recs, case, time.time() - t1))
    data = {
        "model": os.path.basename(model_path),
        "made_with": (f"reference/forward_f64.py --goldens; gguf {version('gguf')}, "
                      f"numpy {version('numpy')}; float64, weights via gguf.quants.dequantize"),
        "n_generated": n_new,
        "rope_mode": m.rope_mode,
        "notes": ("margin = top1 - top2 raw logit; top16 = [id, logit] of the raw "
                  "float64 logits, descending; top2_logprob = [id, log-softmax]. "
                  "Prompt ids are those of llamacpp.json (llama.cpp's tokenizer)."),
        "cases": out_cases,
    }
    if name is None:
        data["first_logits_file"] = "f64-first-logits.bin"
        data["first_logits_layout"] = ("little-endian float32, [case][vocab] row-major: "
                                       f"{len(first)} cases (order of 'cases') x {m.n_vocab} "
                                       "logits of the first generated step")
        with open(os.path.join(GREEDY_DIR, "f64-first-logits.bin"), "wb") as f:
            for z in first:
                f.write(z.tobytes())
    else:
        data["first_logits_sample_stride"] = m.n_vocab // 1024
        data["first_logits_sample_layout"] = ("cases[i].first_logits_sample[j] = logit of token id "
                                              "j * first_logits_sample_stride at the first generated step")
    with open(os.path.join(GREEDY_DIR, "f64.json" if name is None else f"f64-{name}.json"), "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
        f.write("\n")
    print(f"load {t_load:.1f}s")
    for name, diverge, recs, case, dt in report:
        if diverge is None:
            print(f"{name}: f64 == llama.cpp for all {n_new} tokens ({dt:.1f}s)")
        else:
            lstep = case["steps"][diverge]
            lmargin = lstep["top2"][0][1] - lstep["top2"][1][1]
            print(f"{name}: first difference at step {diverge}: f64 {recs[diverge]['id']} "
                  f"(logprob margin {recs[diverge]['top2_logprob'][0][1] - recs[diverge]['top2_logprob'][1][1]:.4f}) "
                  f"vs llama.cpp {lstep['id']} (logprob margin {lmargin:.4f}) ({dt:.1f}s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--name", choices=sorted(MODELS), help="goldens for this model instead of the default one")
    ap.add_argument("--goldens", action="store_true",
                    help="write Tests/Fixtures/greedy/f64.json + f64-first-logits.bin "
                         "for the prompts of llamacpp.json")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--ids", help="comma-separated prompt ids: print greedy continuation")
    ap.add_argument("--rope", default=None, choices=["norm", "neox"], help="default: the architecture's")
    a = ap.parse_args()
    if a.goldens:
        make_goldens(MODELS[a.name] if a.name else a.model, a.n, a.name)
    elif a.ids:
        m = Model(a.model, rope_mode=a.rope)
        ids = [int(x) for x in a.ids.split(",")]
        steps = m.greedy(ids, a.n)
        print([int(np.argmax(z)) for z in steps])
    else:
        ap.print_help()


if __name__ == "__main__":
    main()
