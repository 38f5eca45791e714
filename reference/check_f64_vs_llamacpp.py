#!/usr/bin/env python3
"""Checks reference/forward_f64.py against llama.cpp with quantisation out of the way.

Writes an F32 copy of the model (every tensor dequantised with
gguf.quants.dequantize, same metadata) to /tmp/wafer-ref/, runs llama.cpp on it
with an F32 KV cache and flash attention off, and compares the logits of the
last prompt position with forward_f64's, for the prompts of
Tests/Fixtures/greedy/llamacpp.json, with both RoPE layouts (NORM: adjacent
pairs, NEOX: halves). Expected: NORM agrees to ~1e-4, NEOX does not.

Usage: /opt/wafer-ref-venv/bin/python reference/check_f64_vs_llamacpp.py
"""
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGUFValueType as V
from llama_cpp import Llama

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from forward_f64 import Model, DEFAULT_MODEL, GREEDY_DIR  # noqa: E402

F32_PATH = "/tmp/wafer-ref/smollm2-f32.gguf"


def write_f32_copy(src, dst):
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, arch=r.fields["general.architecture"].contents())
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        val = 0 if name == "general.file_type" else f.contents()   # 0 = all F32
        if f.types[0] == V.ARRAY:
            w.add_key_value(name, val, V.ARRAY, sub_type=f.types[1])
        else:
            w.add_key_value(name, val, f.types[0])
    for t in r.tensors:
        w.add_tensor(t.name, gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    os.makedirs(os.path.dirname(F32_PATH), exist_ok=True)
    if not os.path.exists(F32_PATH):
        write_f32_copy(DEFAULT_MODEL, F32_PATH)
    cases = json.load(open(os.path.join(GREEDY_DIR, "llamacpp.json"), encoding="utf-8"))["cases"]
    llm = Llama(model_path=F32_PATH, n_ctx=512, n_threads=2, logits_all=True,
                flash_attn=False, type_k=0, type_v=0, verbose=False)   # 0 = GGML_TYPE_F32
    m = Model(DEFAULT_MODEL)
    worst = {}
    for c in cases:
        llm.reset()
        llm.eval(c["prompt_ids"])
        ref = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        line = [c["name"]]
        for mode in ("norm", "neox"):
            m.rope_mode = mode
            z = m.forward(c["prompt_ids"], m.new_cache(), 0)
            d = float(np.abs(z - ref).max())
            worst[mode] = max(worst.get(mode, 0.0), d)
            line.append(f"{mode}: max|dlogit| {d:.2e} argmax {int(np.argmax(z))}")
        line.append(f"llama.cpp f32 argmax {int(np.argmax(ref))}")
        print("  ".join(line))
    print(f"worst max|dlogit|: norm {worst['norm']:.2e}, neox {worst['neox']:.2e}")
    if worst["norm"] > 1e-3:
        sys.exit("forward_f64 (NORM rope) disagrees with llama.cpp F32")


if __name__ == "__main__":
    main()
