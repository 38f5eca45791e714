#!/usr/bin/env python3
"""Loopback load generator for OpenAI-compatible servers (Wafer or llama.cpp's llama-server).

Streams N concurrent chat completions (closed loop: each client sends its next
request when the last one ends) and reports aggregate completion tok/s, time to
first token and latency P50/P99, and whether every stream ended with [DONE].
With --malformed K it then sends K hostile requests (bad JSON, oversized
bodies, slow senders, half-closed sockets) and checks the server still answers.
Bounded: every request has a timeout. Needs httpx (Tests/e2e/requirements.txt).
"""
import argparse
import json
import random
import socket
import statistics
import threading
import time
from urllib.parse import urlparse

import httpx


def percentile(values, q):
    if not values:
        return 0.0
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(-(-q * len(s) // 1)) - 1))]


def stream_one(base, model, prompt, max_tokens, timeout):
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
            "temperature": 0, "stream": True, "stream_options": {"include_usage": True}, "ignore_eos": True}
    start = time.perf_counter()
    first = None
    pieces, usage_tokens = 0, None
    done = False
    with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=timeout) as r:
        if r.status_code != 200:
            return {"ok": False, "status": r.status_code}
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                done = True
                break
            chunk = json.loads(data)
            if chunk.get("usage"):
                usage_tokens = chunk["usage"]["completion_tokens"]
            for choice in chunk.get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    pieces += 1
                    if first is None:
                        first = time.perf_counter()
    end = time.perf_counter()
    # The usage chunk when the server sends one; else one token per content chunk.
    tokens = usage_tokens if usage_tokens is not None else pieces
    return {"ok": done, "ttft": (first or end) - start, "latency": end - start, "tokens": tokens}


def load(base, model, concurrency, requests, max_tokens, prompt_words, timeout):
    rng = random.Random(7)
    words = "the quick brown fox jumps over a lazy dog while rain falls on quiet hills".split()
    prompts = [" ".join(rng.choice(words) for _ in range(prompt_words)) for _ in range(requests)]
    results, lock, next_index = [], threading.Lock(), [0]

    def client():
        while True:
            with lock:
                if next_index[0] >= requests:
                    return
                i = next_index[0]
                next_index[0] += 1
            try:
                r = stream_one(base, model, prompts[i], max_tokens, timeout)
            except httpx.HTTPError as e:
                r = {"ok": False, "error": str(e)}
            with lock:
                results.append(r)
    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ok = [r for r in results if r.get("ok")]
    ttft = [r["ttft"] for r in ok]
    latency = [r["latency"] for r in ok]
    return {"concurrency": concurrency, "requests": requests, "completed_with_done": len(ok), "wall_seconds": wall,
            "completion_tokens_per_second": sum(r["tokens"] for r in ok) / wall,
            "ttft_p50": percentile(ttft, 0.5), "ttft_p99": percentile(ttft, 0.99),
            "latency_p50": percentile(latency, 0.5), "latency_p99": percentile(latency, 0.99),
            "mean_ttft": statistics.mean(ttft) if ttft else 0.0}


def malformed(base, count):
    host, port = urlparse(base).hostname, urlparse(base).port
    kinds = ["bad_json", "huge_body", "slow_sender", "half_closed"]
    outcomes = {k: 0 for k in kinds}

    def hostile(i):
        kind = kinds[i % len(kinds)]
        try:
            if kind == "bad_json":
                httpx.post(base + "/v1/chat/completions", content=b'{"model": [', timeout=10)
            elif kind == "huge_body":
                httpx.post(base + "/v1/chat/completions", content=b"x" * (16 << 20), timeout=30)
            else:
                s = socket.create_connection((host, port), timeout=10)
                s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
                if kind == "slow_sender":
                    for _ in range(10):
                        time.sleep(0.1)
                        s.sendall(b" ")
                else:
                    s.shutdown(socket.SHUT_WR)
                    time.sleep(0.2)
                s.close()
            outcomes[kind] += 1
        except (httpx.HTTPError, OSError):
            outcomes[kind] += 1  # the server may drop an oversized upload mid-way; what matters is that it stays up
    threads = [threading.Thread(target=hostile, args=(i,)) for i in range(count)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    health = httpx.get(base + "/health", timeout=10).status_code
    return {"sent": count, "by_kind": outcomes, "seconds": time.perf_counter() - start, "health_after": health}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="http://127.0.0.1:8080")
    p.add_argument("--model", default="SmolLM2-135M-Instruct.Q4_1")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--requests", type=int, default=0, help="default: 2 × concurrency")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--prompt-words", type=int, default=32)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--malformed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    report = {"load": load(a.base, a.model, a.concurrency, a.requests or 2 * a.concurrency, a.max_tokens, a.prompt_words, a.timeout)}
    if a.malformed:
        report["malformed"] = malformed(a.base, a.malformed)
        report["after_malformed"] = stream_one(a.base, a.model, "Hello", 4, 60)
    if a.json:
        print(json.dumps(report, indent=2))
    else:
        l = report["load"]
        print(f"{l['concurrency']} concurrent, {l['requests']} requests: {l['completed_with_done']} ended with [DONE]; "
              f"{l['completion_tokens_per_second']:.1f} completion tok/s; TTFT P50 {l['ttft_p50']*1000:.0f} ms "
              f"P99 {l['ttft_p99']*1000:.0f} ms; latency P50 {l['latency_p50']:.2f} s P99 {l['latency_p99']:.2f} s")
        if a.malformed:
            m = report["malformed"]
            print(f"malformed: {m['sent']} sent {m['by_kind']} in {m['seconds']:.1f} s; /health then {m['health_after']}; "
                  f"a normal request then ok={report['after_malformed']['ok']}")


if __name__ == "__main__":
    main()
