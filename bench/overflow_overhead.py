#!/usr/bin/env python3
"""What the overflow route adds per request: the same small request sent to an
upstream `wafer serve` directly and through a front `wafer serve --upstream ...
--overflow-queue-depth 0`, alternately, on loopback. Prints the median
latencies and their difference (non-streamed and time to first streamed byte).

    .build/e2e-venv/bin/python bench/overflow_overhead.py [--requests 100]
"""
import argparse
import os
import statistics
import sys
import time

import httpx

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "e2e"))
from conftest import MODEL_ID, Server  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=100)
    args = p.parse_args()
    upstream = Server()
    front = Server("--upstream", upstream.base + "/v1", "--overflow-queue-depth", "0")
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1, "temperature": 0}
    times = {"direct": [], "overflow": []}
    first = {"direct": [], "overflow": []}
    try:
        with httpx.Client(timeout=60) as client:
            for i in range(args.requests + 5):
                for name, base in (("direct", upstream.base), ("overflow", front.base)):
                    t0 = time.perf_counter()
                    r = client.post(base + "/v1/chat/completions", json=body)
                    elapsed = time.perf_counter() - t0
                    assert r.status_code == 200, r.text
                    t0 = time.perf_counter()
                    with client.stream("POST", base + "/v1/chat/completions", json={**body, "stream": True}) as s:
                        ttfb = None
                        for _ in s.iter_bytes():
                            ttfb = ttfb or time.perf_counter() - t0
                    if i >= 5:  # warm-up
                        times[name].append(elapsed)
                        first[name].append(ttfb)
    finally:
        front.stop()
        upstream.stop()
    for label, data in (("whole response", times), ("first streamed byte", first)):
        d, o = statistics.median(data["direct"]) * 1000, statistics.median(data["overflow"]) * 1000
        print(f"{label}: direct {d:.2f} ms, through the overflow route {o:.2f} ms, added {o - d:.2f} ms (medians of {args.requests})")


if __name__ == "__main__":
    main()
