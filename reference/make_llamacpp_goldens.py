#!/usr/bin/env python3
"""Golden data from llama.cpp (through the llama-cpp-python PyPI package).

  tokenizer  Tests/Fixtures/tokenizer/{smollm2,llama-bpe,qwen2,llama-spm,gemma3}.json
             ids for the strings of reference/tokenizer_cases.py
  greedy     Tests/Fixtures/greedy/llamacpp.json: 8 prompts, 32 greedy tokens
             with per-step top-2 log-probs and top-16 logits; flash attention
             off (main) and on (compared, recorded)
  greedy NAME  the same for another model of MODELS, into llamacpp-NAME.json
             (a model without a chat template gets the plain-text prompts only)

Usage: /opt/wafer-ref-venv/bin/python reference/make_llamacpp_goldens.py [tokenizer|greedy [NAME]|all]
The vocab GGUFs come from scripts/fetch-vocabs (models/vocab/).
"""
import ctypes
import json
import math
import os
import sys
import time
from datetime import datetime
from importlib.metadata import version

import numpy as np
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
import gguf
import llama_cpp
from llama_cpp import Llama

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from tokenizer_cases import CASES  # noqa: E402

MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
VOCABS = {
    "llama-bpe": os.path.join(ROOT, "models", "vocab", "ggml-vocab-llama-bpe.gguf"),
    "qwen2": os.path.join(ROOT, "models", "vocab", "ggml-vocab-qwen2.gguf"),
    "llama-spm": os.path.join(ROOT, "models", "vocab", "ggml-vocab-llama-spm.gguf"),
}
MODELS = {
    "qwen2.5-coder-0.5b": os.path.join(ROOT, "models", "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf"),
    "qwen2.5-coder-1.5b": os.path.join(ROOT, "models", "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M.gguf"),
    "gemma3-270m": os.path.join(ROOT, "models", "gemma-3-270m-Q4_K_M.gguf"),
}
TOK_DIR = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer")
GREEDY_DIR = os.path.join(ROOT, "Tests", "Fixtures", "greedy")
N_GEN = 32
MADE_WITH = (f"llama-cpp-python {version('llama-cpp-python')} (llama.cpp vendored in it), "
             f"gguf {version('gguf')}, jinja2 {version('jinja2')}, numpy {version('numpy')}")


_readers = {}


def reader(path):
    if path not in _readers:
        _readers[path] = gguf.GGUFReader(path)
    return _readers[path]


def meta(path, key, default=None):
    f = reader(path).fields.get(key)
    return default if f is None else f.contents()


def detokenize(llm, ids, remove_special=False, unparse_special=True):
    """llama.cpp's own llama_detokenize (not the Python wrapper's piece loop)."""
    vocab = llm._model.vocab
    arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
    size = 64 + 16 * len(ids)
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, size,
                                       remove_special, unparse_special)
        if n >= 0:
            return buf.raw[:n]
        size = -n + 1


def text_of(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return None


# ---------------------------------------------------------------- tokenizer

def tokenizer_goldens(name, path):
    llm = Llama(model_path=path, vocab_only=True, verbose=False)
    vocab = llm._model.vocab
    info = {
        "tokenizer.ggml.model": meta(path, "tokenizer.ggml.model"),
        "tokenizer.ggml.pre": meta(path, "tokenizer.ggml.pre"),
        "add_bos (llama_vocab_get_add_bos)": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
        "add_eos (llama_vocab_get_add_eos)": bool(llama_cpp.llama_vocab_get_add_eos(vocab)),
        "bos_id": int(llama_cpp.llama_vocab_bos(vocab)),
        "eos_id": int(llama_cpp.llama_vocab_eos(vocab)),
        "add_space_prefix": meta(path, "tokenizer.ggml.add_space_prefix"),
    }
    cases = []
    for text in CASES:
        b = text.encode("utf-8")
        ids = llm.tokenize(b, add_bos=False, special=True)
        case = {
            "text": text,
            "ids": ids,
            "ids_add_special": llm.tokenize(b, add_bos=True, special=True),
            "ids_parse_special_false": llm.tokenize(b, add_bos=False, special=False),
        }
        d = detokenize(llm, ids)
        t = text_of(d)
        case["detok"] = t
        if t is None:
            case["detok_hex"] = d.hex()
        cases.append(case)
    out = {
        "model": os.path.basename(path),
        "made_with": "reference/make_llamacpp_goldens.py tokenizer; " + MADE_WITH,
        "vocab": info,
        "notes": ("ids: Llama(path, vocab_only=True).tokenize(text.encode('utf-8'), add_bos=False, special=True). "
                  "ids_add_special: same with add_bos=True, i.e. llama_tokenize(add_special=true): llama.cpp "
                  "adds BOS/EOS only as the file's metadata says (see 'vocab'). "
                  "ids_parse_special_false: add_bos=False, special=False (special-token text is plain text). "
                  "detok: llama_detokenize(ids, remove_special=false, unparse_special=true) as UTF-8 "
                  "(detok_hex if it is not valid UTF-8)."),
        "cases": cases,
    }
    os.makedirs(TOK_DIR, exist_ok=True)
    fname = os.path.join(TOK_DIR, name + ".json")
    with open(fname, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)
        f.write("\n")
    mism = sum(1 for c in cases if c["detok"] != c["text"])
    print(f"{fname}: {len(cases)} cases, {os.path.getsize(fname)} bytes, "
          f"{mism} whose detok != text; vocab {info}")
    del llm


# ---------------------------------------------------------------- chat template

def render_chat(template, messages, bos_token, eos_token):
    """Renders like transformers' apply_chat_template(add_generation_prompt=True)."""
    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template).render(messages=messages, add_generation_prompt=True,
                                            bos_token=bos_token, eos_token=eos_token)


PROMPTS = [
    {"name": "plain-capital", "text": "The capital of France is"},
    {"name": "plain-code", "text": "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"},
    {"name": "plain-story", "text": "Once upon a time, in a small village by the sea, there lived"},
    {"name": "plain-list", "text": "Here is a list of the planets in our solar system, in order from the Sun:\n1."},
    {"name": "chat-simple", "messages": [
        {"role": "user", "content": "What is the capital of France?"}]},
    {"name": "chat-system", "messages": [
        {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
        {"role": "user", "content": "Why is the sky blue?"}]},
    {"name": "chat-multiturn", "messages": [
        {"role": "user", "content": "Hi! Can you help me with math?"},
        {"role": "assistant", "content": "Of course! What do you need help with?"},
        {"role": "user", "content": "What is 12 times 7?"}]},
    {"name": "chat-haiku", "messages": [
        {"role": "user", "content": "Write a haiku about autumn leaves."}]},
]


# Longer than a 512-position sliding window, so that windowed layers see only part of it.
LONG_PROMPT = {"name": "plain-long-window", "text": ", ".join(str(i) for i in range(1, 200)) + ","}


def log_softmax(z):
    z = z.astype(np.float64)
    m = z.max()
    return z - m - math.log(np.exp(z - m).sum())


def run_greedy(llm, prompt_ids):
    llm.reset()
    llm.eval(prompt_ids)
    steps, gen = [], []
    first_logits = None
    for i in range(N_GEN):
        z = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        if i == 0:
            first_logits = z.copy()
        ls = log_softmax(z)
        order = np.argsort(-z, kind="stable")
        tok = int(order[0])
        steps.append({
            "id": tok,
            "top2": [[int(j), float(ls[j])] for j in order[:2]],
            "top16_logits": [[int(j), float(z[j])] for j in order[:16]],
        })
        gen.append(tok)
        if i + 1 < N_GEN:
            llm.eval([tok])
    return gen, steps, first_logits


def greedy_goldens(name=None):
    model = MODEL if name is None else MODELS[name]
    tmpl = meta(model, "tokenizer.chat_template")
    toks = reader(model).fields["tokenizer.ggml.tokens"].contents()
    bos = toks[int(meta(model, "tokenizer.ggml.bos_token_id"))]
    eos = toks[int(meta(model, "tokenizer.ggml.eos_token_id"))]
    prompts = [p for p in PROMPTS if tmpl is not None or "text" in p]
    if meta(model, f"{meta(model, 'general.architecture')}.attention.sliding_window"):
        prompts.append(LONG_PROMPT)
    runs = {}
    timings = {}
    for fa in (False, True):
        t0 = time.time()
        llm = Llama(model_path=model, n_ctx=512 if name is None else 1024, n_batch=512, n_threads=2, n_threads_batch=2,
                    logits_all=True, flash_attn=fa, seed=0, verbose=False)
        res = []
        for p in prompts:
            text = p["text"] if "text" in p else render_chat(tmpl, p["messages"], bos, eos)
            ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
            gen, steps, first = run_greedy(llm, ids)
            res.append((p, text, ids, gen, steps, first))
        runs[fa] = res
        timings[fa] = time.time() - t0
        del llm
    cases = []
    notes = []
    for (p, text, ids, gen, steps, first), (_, _, ids_fa, gen_fa, steps_fa, first_fa) in zip(runs[False], runs[True]):
        assert ids == ids_fa
        c = {"name": p["name"], "kind": "chat" if "messages" in p else "text"}
        if "messages" in p:
            c["messages"] = p["messages"]
        c.update({"prompt": text, "prompt_ids": ids, "generated_ids": gen,
                  "generated_text": text_of(llm_detok_cache(model, gen)), "steps": steps,
                  "generated_ids_flash_attn": gen_fa})
        div = next((i for i, (a, b) in enumerate(zip(gen, gen_fa)) if a != b), None)
        c["flash_attn_first_difference"] = div
        c["first_step_max_abs_logit_diff_flash_attn"] = float(np.abs(first - first_fa).max())
        if div is not None:
            m0 = steps[div]["top2"][0][1] - steps[div]["top2"][1][1]
            m1 = steps_fa[div]["top2"][0][1] - steps_fa[div]["top2"][1][1]
            notes.append(f"{p['name']}: flash_attn on/off differ first at step {div} "
                         f"(off picks {gen[div]} margin {m0:.4f}, on picks {gen_fa[div]} margin {m1:.4f})")
        cases.append(c)
        os.makedirs("/tmp/wafer-ref", exist_ok=True)
        first.astype("<f4").tofile(f"/tmp/wafer-ref/llamacpp-first-{name or 'smollm2'}-{p['name']}.bin")
    out = {
        "model": os.path.basename(model),
        "made_with": "reference/make_llamacpp_goldens.py greedy; " + MADE_WITH,
        "settings": (f"Llama(model_path, n_ctx={512 if name is None else 1024}, n_batch=512, n_threads=2, logits_all=True, "
                     "flash_attn=False, seed=0); prompt ids = tokenize(prompt, add_bos=True, special=True) "
                     f"(llama.cpp adds BOS only per the file's tokenizer.ggml.add_bos_token, "
                     f"{str(meta(model, 'tokenizer.ggml.add_bos_token', False)).lower()} here); "
                     "greedy: each step takes the argmax of llama.cpp's logits (temperature 0) and evals it. "
                     "Chat prompts rendered from tokenizer.chat_template with jinja2 as HF apply_chat_template "
                     "does (trim_blocks, lstrip_blocks, add_generation_prompt=True)."),
        "fields": ("steps[i].id = generated token i; top2 = [[id, log-softmax]] of the two best; "
                   "top16_logits = [[id, raw logit]] descending. generated_ids_flash_attn: same run with "
                   "flash_attn=True; flash_attn_first_difference: first step where they differ (null: none)."),
        "n_generated": N_GEN,
        "flash_attn_notes": notes,
        "cases": cases,
    }
    os.makedirs(GREEDY_DIR, exist_ok=True)
    fname = os.path.join(GREEDY_DIR, "llamacpp.json" if name is None else f"llamacpp-{name}.json")
    with open(fname, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    print(f"{fname}: {os.path.getsize(fname)} bytes; run time fa=off {timings[False]:.1f}s, "
          f"fa=on {timings[True]:.1f}s")
    for c in cases:
        print(f"  {c['name']}: {len(c['prompt_ids'])} prompt ids; fa diff at {c['flash_attn_first_difference']}; "
              f"first-step max|dlogit| fa {c['first_step_max_abs_logit_diff_flash_attn']:.2e}; "
              f"{c['generated_text']!r}")
    for n in notes:
        print("  " + n)


_vocab_llms = {}


def llm_detok_cache(model, ids):
    if model not in _vocab_llms:
        _vocab_llms[model] = Llama(model_path=model, vocab_only=True, verbose=False)
    return detokenize(_vocab_llms[model], ids)


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    t0 = time.time()
    if what in ("tokenizer", "all"):
        tokenizer_goldens("smollm2", MODEL)
        tokenizer_goldens("gemma3", MODELS["gemma3-270m"])
        for name, path in VOCABS.items():
            if not os.path.exists(path):
                sys.exit(f"{path} missing: run scripts/fetch-vocabs")
            tokenizer_goldens(name, path)
        print(f"tokenizer goldens: {time.time() - t0:.1f}s")
    if what in ("greedy", "all"):
        t1 = time.time()
        greedy_goldens(sys.argv[2] if len(sys.argv) > 2 else None)
        print(f"greedy goldens: {time.time() - t1:.1f}s")


if __name__ == "__main__":
    main()
