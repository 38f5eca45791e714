#!/usr/bin/env python3
"""Wafer beside llama.cpp's llama-server on the same GGUF, same thread count, same load generator.

Starts each server in turn on a free loopback port and measures, alternating A B A B for
--rounds rounds: prompt processing tok/s (median of three different ~512-token prompts after a warm-up) and single-stream decode tok/s
(128 tokens), both from the server's own timings; aggregate completion tok/s and TTFT P50/P99
with 1, 8 and 32 concurrent streaming clients (bench/http_load.py); peak resident memory
(VmHWM). Prints one table with both columns and the ratio Wafer ÷ llama.cpp (medians over rounds).
"""
import argparse
import json
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import http_load  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.base = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(self.base + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.process.kill()
        raise RuntimeError(f"{name} did not become healthy")

    def peak_rss_mib(self):
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def single(server, model, words, max_tokens):
    """One non-streamed request; prompt and decode rates from the server's own timings."""
    body = {"model": model, "messages": [{"role": "user", "content": words}], "max_tokens": max_tokens,
            "temperature": 0, "ignore_eos": True}
    r = httpx.post(server.base + "/v1/chat/completions", json=body, timeout=600).json()
    usage = r["usage"]
    if "time_info" in r:  # Wafer (Cerebras' shape); tokens found in the prefix cache were not computed
        t = r["time_info"]
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
        return (usage["prompt_tokens"] - cached) / t["prompt_time"], (usage["completion_tokens"] - 1) / max(t["completion_time"], 1e-9)
    t = r["timings"]  # llama-server
    return t["prompt_per_second"], t["predicted_per_second"]


def measure(server, model, concurrencies, max_tokens):
    out = {}
    # ~512 prompt tokens: SmolLM2's tokenizer makes about one token per word of this text.
    # A warm-up first (a fresh server's first request also pays for its buffers),
    # then the median of three different prompts (so neither server's prompt cache helps).
    def words(k):
        return " ".join(f"w{(i + 13 * k) % 97}" for i in range(250))
    single(server, model, words(0), 1)
    prompt_rate = statistics.median(single(server, model, words(k), 1)[0] for k in (1, 2, 3))
    _, decode_rate = single(server, model, "Tell me a long story.", 128)
    out["prompt tok/s (~512-token prompts, median of 3)"] = prompt_rate
    out["decode tok/s (one stream, 128 tokens)"] = decode_rate
    for c in concurrencies:
        l = http_load.load(server.base, model, c, 2 * c, max_tokens, 32, 600)
        assert l["completed_with_done"] == 2 * c, f"{server.name}: {l}"
        out[f"aggregate completion tok/s, {c} clients"] = l["completion_tokens_per_second"]
        out[f"TTFT P50 ms, {c} clients"] = l["ttft_p50"] * 1000
        out[f"TTFT P99 ms, {c} clients"] = l["ttft_p99"] * 1000
    out["peak RSS MiB"] = server.peak_rss_mib()
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--llama-server", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--concurrency", default="1,8,32")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    concurrencies = [int(c) for c in a.concurrency.split(",")]
    slots = max(concurrencies)
    model_id = Path(a.model).stem
    results = {"wafer": [], "llama.cpp": []}
    for round_index in range(a.rounds):
        for name in ["wafer", "llama.cpp"]:
            port = free_port()
            if name == "wafer":
                argv = [str(ROOT / ".build/release/wafer"), "serve", "--model", a.model, "--port", str(port),
                        "--max-batch", str(slots), "--ledger", f"/tmp/wafer-bench-{port}.db"]
            else:
                argv = [a.llama_server, "-m", a.model, "--port", str(port), "-t", str(a.threads), "-tb", str(a.threads),
                        "-np", str(slots), "-c", str(slots * 1024), "--alias", model_id]
            server = Running(name, argv, port)
            try:
                results[name].append(measure(server, model_id, concurrencies, a.max_tokens))
            finally:
                server.stop()
            print(f"round {round_index + 1} {name}: done", file=sys.stderr)
    keys = list(results["wafer"][0])
    table = {k: (statistics.median(r[k] for r in results["wafer"]), statistics.median(r[k] for r in results["llama.cpp"]))
             for k in keys}
    if a.json:
        print(json.dumps({k: {"wafer": w, "llama.cpp": l, "ratio": w / l if l else None} for k, (w, l) in table.items()}, indent=2))
        return
    print(f"{a.rounds} alternating rounds, {a.threads} threads, {Path(a.model).name}; medians")
    print("| figure | wafer | llama.cpp | wafer ÷ llama.cpp |")
    print("|---|---|---|---|")
    for k, (w, l) in table.items():
        print(f"| {k} | {w:.1f} | {l:.1f} | {w / l:.2f} |" if l else f"| {k} | {w:.1f} | {l:.1f} | – |")


if __name__ == "__main__":
    main()
