#!/usr/bin/env python3
"""Ledger load test: N requests from C concurrent clients (two API keys) against a running
`wafer serve --api-keys KEYS --ledger DB`, then the ledger's per-key sums against the sums of
the response headers. With --kill-after S, the server (its pid given) is killed with SIGKILL
after S seconds and every acknowledged request must still have its row.

    bench/ledger_load.py --base http://127.0.0.1:8099 --ledger data/ledger.db --requests 10000 --clients 8
"""
import argparse
import os
import signal
import sqlite3
import threading
import time
from decimal import Decimal

import httpx

KEYS = [("sk-load-alice-0001", "alice"), ("sk-load-bob-00002", "bob")]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--ledger", required=True)
    p.add_argument("--model", default="SmolLM2-135M-Instruct.Q4_1")
    p.add_argument("--requests", type=int, default=10000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--kill-after", type=float, default=0)
    p.add_argument("--pid", type=int, default=0)
    a = p.parse_args()
    seen = {name: [] for _, name in KEYS}
    lock, counter, failures = threading.Lock(), [0], [0]

    def client(i):
        key, name = KEYS[i % len(KEYS)]
        with httpx.Client(base_url=a.base, timeout=60, headers={"authorization": f"Bearer {key}"}) as http:
            while True:
                with lock:
                    if counter[0] >= a.requests:
                        return
                    counter[0] += 1
                    n = counter[0]
                try:
                    r = http.post("/v1/chat/completions", json={"model": a.model, "max_tokens": 1,
                                                                "messages": [{"role": "user", "content": f"Say {n}."}]})
                except httpx.HTTPError:
                    with lock:
                        failures[0] += 1
                    if a.kill_after:
                        return
                    continue
                if r.status_code == 200:
                    with lock:
                        seen[name].append(r.headers)
    start = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    if a.kill_after:
        time.sleep(a.kill_after)
        os.kill(a.pid, signal.SIGKILL)
    for t in threads:
        t.join()
    wall = time.time() - start
    db = sqlite3.connect(a.ledger)
    acknowledged = sum(len(v) for v in seen.values())
    print(f"{acknowledged} acknowledged, {failures[0]} failed at the transport in {wall:.1f} s ({acknowledged / wall:.0f} req/s)")
    for _, name in KEYS:
        rows = db.execute("SELECT request_id, cost_usd, prompt_tokens + completion_tokens FROM requests WHERE key_name = ?", (name,)).fetchall()
        ids = {r[0] for r in rows}
        missing = [h["x-request-id"] for h in seen[name] if h["x-request-id"] not in ids]
        ledger_cost = sum(Decimal(r[1]) for r in rows)
        header_cost = sum(Decimal(h["x-wafer-cost-usd"]) for h in seen[name])
        print(f"{name}: {len(rows)} rows, {len(seen[name])} acknowledged, {len(missing)} acknowledged without a row; "
              f"cost ledger {ledger_cost} vs headers {header_cost}; tokens ledger {sum(r[2] for r in rows)} "
              f"vs headers {sum(int(h['x-wafer-total-tokens']) for h in seen[name])}")


if __name__ == "__main__":
    main()
