#!/usr/bin/env python3
"""llama.cpp's prompt-processing and decode speed through llama-cpp-python,
measured the way `wafer bench` measures ours: one 512-token prompt of seeded
random ids, then 128 single-token decode steps, median of --repeat runs.
Prints JSON like `wafer bench --json` (peak RSS of this process included).

    /opt/wafer-ref-venv/bin/python reference/bench_llamacpp.py --threads 2
"""
import argparse
import json
import os
import random
import resource
import time

import llama_cpp

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.join(os.path.dirname(HERE), "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--decode-tokens", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()

    t0 = time.time()
    llm = llama_cpp.Llama(model_path=a.model, n_ctx=a.prompt_tokens + a.decode_tokens + 8, n_batch=a.prompt_tokens,
                          n_ubatch=a.prompt_tokens, n_threads=a.threads, n_threads_batch=a.threads, verbose=False)
    load = time.time() - t0
    rng = random.Random(42)
    prompt = [rng.randrange(llm.n_vocab()) for _ in range(a.prompt_tokens)]
    pp, tg = [], []
    for _ in range(a.repeat):
        llm.reset()
        t = time.time()
        llm.eval(prompt)
        pp.append(a.prompt_tokens / (time.time() - t))
        llm.reset()
        llm.eval(prompt[:1])
        t = time.time()
        for _ in range(a.decode_tokens):
            llm.eval([int(llm.scores[llm.n_tokens - 1].argmax())])
        tg.append(a.decode_tokens / (time.time() - t))
    median = lambda xs: sorted(xs)[len(xs) // 2]
    print(json.dumps({
        "engine": f"llama.cpp via llama-cpp-python {llama_cpp.__version__}",
        "model": a.model, "threads": a.threads, "loadSeconds": load,
        "promptTokens": a.prompt_tokens, "promptTokensPerSecond": median(pp),
        "decodeTokens": a.decode_tokens, "decodeTokensPerSecond": median(tg),
        "peakResidentBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }, indent=2))


if __name__ == "__main__":
    main()
