#!/usr/bin/env python3
"""Soak run (issue 21): mixed traffic against a real `wafer serve` for N minutes,
then the server's health and the ledger's books.

Workers send, at random: chat and completions (official openai client and raw
HTTP), streams (with the usage chunk), streams the client hangs up mid-way,
bad requests (broken JSON, bad values, unknown models, oversized bodies), and
now and then a Batch API job. Every N seconds it samples the server's RSS,
threads and open files. At the end it checks:
  - the server never crashed and exits 0 on SIGTERM;
  - every request the server saw has a ledger row, and each cost a client was
    told (x-wafer-cost-usd, a stream's usage, a batch line's usage) equals its row;
  - RSS, threads and open files at the start (after warm-up) and at the end.

    .build/e2e-venv/bin/python bench/soak.py --minutes 30 [--workers 4] [--model NAME]
"""
import argparse
import collections
import decimal
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import openai

ROOT = Path(__file__).resolve().parents[1]
WAFER = ROOT / ".build" / "release" / "wafer"
PROMPTS = ["Hi", "Write a haiku about rain.", "What is 2+2?", "List three colours.", "Tell me a story about a fox.",
           "Explain recursion in one sentence.", "Translate 'good morning' to French."]


def proc_stats(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    field = {line.split(":")[0]: line.split(":")[1].strip() for line in status.splitlines() if ":" in line}
    return {"rss_mb": int(field["VmRSS"].split()[0]) / 1024, "threads": int(field["Threads"]),
            "open_files": len(os.listdir(f"/proc/{pid}/fd"))}


class Books:
    """What clients were told, by request id; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.told = {}         # request id -> cost the client saw
        self.seen = set()      # every request id the server answered with
        self.kinds = collections.Counter()
        self.batches = []

    def note(self, kind, request_id=None, cost=None):
        with self.lock:
            self.kinds[kind] += 1
            if request_id:
                self.seen.add(request_id)
                if cost is not None:
                    self.told[request_id] = decimal.Decimal(str(cost))


def body(stream=False, **extra):
    return {"model": MODEL, "messages": [{"role": "user", "content": random.choice(PROMPTS)}],
            "max_tokens": random.randint(4, 48), "temperature": random.choice([0, 0.7, 1.0]), "stream": stream, **extra}


def chat_openai(c, base, books):
    raw = c.chat.completions.with_raw_response.create(**{k: v for k, v in body().items() if k != "stream"})
    raw.parse()
    books.note("chat", raw.headers["x-request-id"], raw.headers["x-wafer-cost-usd"])


def completion_raw(c, base, books):
    r = httpx.post(base + "/v1/completions", timeout=120,
                   json={"model": MODEL, "prompt": random.choice(PROMPTS), "max_tokens": random.randint(1, 32), "n": random.randint(1, 3)})
    assert r.status_code == 200, r.text
    books.note("completion", r.headers["x-request-id"], r.headers["x-wafer-cost-usd"])


def stream(c, base, books):
    cost = None
    with httpx.stream("POST", base + "/v1/chat/completions", json=body(True, stream_options={"include_usage": True}), timeout=120) as r:
        assert r.status_code == 200
        done = False
        for line in r.iter_lines():
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                usage = json.loads(line[6:]).get("usage")
                if usage:
                    cost = usage["cost_usd"]
        assert done, "stream ended without [DONE]"
        books.note("stream", r.headers["x-request-id"], cost)


def hang_up(c, base, books):
    with httpx.stream("POST", base + "/v1/chat/completions", json=body(True, max_tokens=200, ignore_eos=True), timeout=120) as r:
        for i, _ in enumerate(r.iter_lines()):
            if i >= random.randint(1, 6):
                break
        books.note("hang-up", r.headers["x-request-id"])


BAD = [
    (b"{not json", 400), (json.dumps({"model": "nope", "messages": [{"role": "user", "content": "x"}]}).encode(), 404),
    (json.dumps({"model": "M", "messages": [], "max_tokens": 4}).encode(), 400),
    (json.dumps({"model": "M", "messages": [{"role": "user", "content": "x"}], "n": 0}).encode(), 400),
    (json.dumps({"model": "M", "messages": [{"role": "user", "content": "x"}], "max_tokens": 10 ** 12}).encode(), 400),
    (json.dumps({"model": "M", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}).encode(), 400),
    (b'{"model": "M", "model": "M", "messages": []}', 400),
]


def bad_request(c, base, books):
    if random.random() < 0.1:
        r = httpx.post(base + "/v1/chat/completions", content=b" " * (9 << 20), headers={"content-type": "application/json"}, timeout=60)
        assert r.status_code == 413, r.status_code
        books.note("bad:413", r.headers.get("x-request-id"))
        return
    payload, status = random.choice(BAD)
    r = httpx.post(base + "/v1/chat/completions", content=payload.replace(b'"M"', json.dumps(MODEL).encode()),
                   headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == status and "error" in r.json(), (payload, r.status_code, r.text)
    books.note(f"bad:{status}", r.headers.get("x-request-id"))


def batch(c, base, books):
    lines = [json.dumps({"custom_id": f"l{i}", "method": "POST", "url": "/v1/chat/completions",
                         "body": {k: v for k, v in body().items() if k != "stream"}}) for i in range(20)]
    f = c.files.create(file=("soak.jsonl", "\n".join(lines).encode()), purpose="batch")
    b = c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    with books.lock:
        books.batches.append(b.id)
    books.note("batch")


ACTIONS = [(chat_openai, 30), (completion_raw, 20), (stream, 25), (hang_up, 10), (bad_request, 13), (batch, 2)]


def worker(c, base, books, stop, errors):
    actions, weights = zip(*ACTIONS)
    while not stop.is_set():
        action = random.choices(actions, weights)[0]
        try:
            action(c, base, books)
        except Exception as e:  # noqa: BLE001 - every failure is counted and reported
            with books.lock:
                errors[f"{action.__name__}: {type(e).__name__}: {str(e)[:120]}"] += 1


def main():
    global MODEL
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--model", help="a GGUF path or scripts/fetch-model name (default: the default model)")
    ap.add_argument("--sample-seconds", type=float, default=30)
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="wafer-soak-")
    model = ["--model", args.model] if args.model else []
    server = subprocess.Popen([str(WAFER), "serve", "--port", "0", "--data-dir", data, *model], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True)
    port = None
    for line in server.stderr:
        if "listening on" in line:
            port = int(line.rsplit(":", 1)[1].split()[0])
            break
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    while httpx.get(base + "/health", timeout=5).status_code != 200:
        time.sleep(0.2)
    c = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=120)
    MODEL = c.models.list().data[0].id
    books, errors, stop = Books(), collections.Counter(), threading.Event()
    threads = [threading.Thread(target=worker, args=(c, base, books, stop, errors)) for _ in range(args.workers)]
    for t in threads:
        t.start()
    started = time.time()
    time.sleep(min(60, args.minutes * 60 / 10))  # warm-up: caches, pools and the allocator settle
    samples = [(time.time() - started, proc_stats(server.pid))]
    while time.time() - started < args.minutes * 60:
        time.sleep(min(args.sample_seconds, max(0.1, args.minutes * 60 - (time.time() - started))))
        samples.append((time.time() - started, proc_stats(server.pid)))
        assert server.poll() is None, "the server died"
    stop.set()
    for t in threads:
        t.join()
    # Batches finish before the books are closed.
    outputs = {}
    for batch_id in books.batches:
        while (b := c.batches.retrieve(batch_id)).status not in ("completed", "failed", "expired", "cancelled"):
            time.sleep(1)
        assert b.status == "completed", (batch_id, b.status)
        outputs[batch_id] = [json.loads(line) for line in c.files.content(b.output_file_id).text.splitlines()]
    end_stats = proc_stats(server.pid)
    server.send_signal(signal.SIGTERM)
    exit_code = server.wait(timeout=60)

    db = sqlite3.connect(Path(data) / "ledger.db")
    rows = {r[0]: (decimal.Decimal(r[1]), r[2], r[3]) for r in db.execute("SELECT request_id, cost_usd, status, batch_id FROM requests")}
    missing = sorted(books.seen - rows.keys())
    wrong = [(rid, str(cost), str(rows[rid][0])) for rid, cost in books.told.items() if rid in rows and rows[rid][0] != cost]
    batch_mismatch = []
    for batch_id, lines in outputs.items():
        told = sum(decimal.Decimal(str(line["response"]["body"]["usage"]["cost_usd"])) for line in lines)
        billed = sum(cost for cost, _, b in rows.values() if b == batch_id)
        if told != billed or len(lines) != 20:
            batch_mismatch.append((batch_id, str(told), str(billed), len(lines)))
    running = [rid for rid, (_, status, _) in rows.items() if status == 0]

    first = samples[0][1]
    report = {
        "minutes": args.minutes, "workers": args.workers, "model": MODEL,
        "requests_by_kind": dict(books.kinds), "client_errors": dict(errors),
        "batches": len(outputs), "batch_lines": sum(len(v) for v in outputs.values()),
        "ledger_rows": len(rows), "costs_checked": len(books.told),
        "ledger_exact": not missing and not wrong and not batch_mismatch and not running,
        "missing_rows": missing[:10], "wrong_costs": wrong[:10], "batch_mismatch": batch_mismatch, "rows_left_running": running[:10],
        "start": first, "end": end_stats, "peak_rss_mb": max(s["rss_mb"] for _, s in samples),
        "rss_mb_over_time": " ".join(f"{t:.0f}s:{s['rss_mb']:.0f}" for t, s in samples),
        "exit_code": exit_code,
    }
    print(json.dumps(report, indent=1))
    ok = report["ledger_exact"] and exit_code == 0 and not errors
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
