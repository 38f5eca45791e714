"""Hostile probes with figures (not a test: prints what it measured).

    .build/e2e-venv/bin/python Tests/e2e/probe_hostile.py [kill9|storm|disk|keys ...]

kill9: clients under load, kill -9 five times; every acknowledged response must have its row.
storm: 600 idle connections and 100 trickling ones from 127.0.0.2; /health latency from 127.0.0.1.
disk:  streams against a ledger on a full 3 MiB tmpfs; how many got text, and recovery time.
keys:  another key's every call on a file and a batch it does not own.
"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import httpx

sys.path.insert(0, os.path.dirname(__file__))
from conftest import MODEL_ID, Server  # noqa: E402
from test_connection_limits import connect_from as connect  # noqa: E402
from test_ledger_durability import fill  # noqa: E402

CHAT = "/v1/chat/completions"


def body(i, stream=False):
    return {"model": MODEL_ID, "messages": [{"role": "user", "content": f"Count to {i % 7 + 2}."}],
            "max_tokens": 24, "stream": stream}


def kill9(rounds=5, clients=16):
    data_dir = tempfile.mkdtemp(prefix="wafer-probe-")
    acknowledged, lock = [], threading.Lock()
    for _ in range(rounds):
        s = Server(data_dir=data_dir)
        stop = threading.Event()

        def client(k):
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    if i % 2:
                        r = httpx.post(s.base + CHAT, json=body(i), timeout=30)
                        if r.status_code == 200 and r.json()["choices"]:
                            with lock:
                                acknowledged.append(r.headers["x-request-id"])
                    else:
                        with httpx.stream("POST", s.base + CHAT, json=body(i, True), timeout=30) as r:
                            rid = r.headers.get("x-request-id")
                            if r.status_code == 200 and any(line == "data: [DONE]" for line in r.iter_lines()):
                                with lock:
                                    acknowledged.append(rid)
                except httpx.HTTPError:
                    pass
        threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(2, 5))
        s.stop(signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join()
    s = Server(data_dir=data_dir)
    rows = {r["request_id"]: r for r in s.rows()}
    s.stop()
    missing = [a for a in acknowledged if a not in rows or rows[a]["status"] != 200]
    interrupted = sum(1 for r in rows.values() if r["finish_reason"] == "interrupted")
    print(f"kill9: {rounds} kills, {len(acknowledged)} acknowledged responses, {len(missing)} without a finished row; "
          f"{len(rows)} rows, {interrupted} interrupted (in flight at a kill, never acknowledged)")


def storm():
    s = Server()
    idle = connect("127.0.0.2", s.port, 600)
    t0 = time.time()
    r = httpx.get(s.base + "/health", timeout=30)
    print(f"storm: 600 idle connections from 127.0.0.2; /health from 127.0.0.1: {r.status_code} in {time.time() - t0:.3f} s")
    for c in idle:
        c.close()
    time.sleep(1)
    trickling = connect("127.0.0.2", s.port, 100)
    t0 = time.time()
    alive = set(range(len(trickling)))
    health = []
    while alive and time.time() - t0 < 60:
        for i in list(alive):
            try:
                trickling[i].send(b"G")
            except OSError:
                alive.discard(i)
        h0 = time.time()
        health.append((httpx.get(s.base + "/health", timeout=30).status_code, time.time() - h0))
        time.sleep(1)
    print(f"storm: 100 clients trickling a header byte a second: all cut off after {time.time() - t0:.1f} s "
          f"(--header-timeout 10); /health during: {sorted({h[0] for h in health})}, worst {max(h[1] for h in health):.3f} s")
    for c in trickling:
        c.close()
    s.stop()


def disk():
    path = tempfile.mkdtemp(prefix="wafer-tmpfs-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", path], check=True)
    s = Server(data_dir=path)
    try:
        httpx.post(s.base + CHAT, json=body(1), timeout=30)
        filler = fill(path)
        got_text = refused = 0
        for i in range(53):
            with httpx.stream("POST", s.base + CHAT, json=body(i, True), timeout=30) as r:
                text = r.read().decode()
                refused += r.status_code == 503
                got_text += '"content"' in text
        health = httpx.get(s.base + "/health", timeout=10).status_code
        os.remove(filler)
        t0 = time.time()
        while httpx.get(s.base + "/health", timeout=10).status_code != 200 and time.time() - t0 < 30:
            time.sleep(0.1)
        recovered = time.time() - t0
        ok = httpx.post(s.base + CHAT, json=body(2), timeout=30).status_code
        print(f"disk: 53 streams on a full disk: {refused} refused with 503, {got_text} got any text; /health {health}; "
              f"space freed -> /health 200 after {recovered:.1f} s, next request {ok}")
    finally:
        s.stop()
        subprocess.run(["umount", "-l", path])


def keys():
    d = tempfile.mkdtemp()
    kf = os.path.join(d, "keys.json")
    with open(kf, "w") as f:
        json.dump({"keys": [{"key": "sk-probe-alice-01", "name": "alice"}, {"key": "sk-probe-mallory", "name": "mallory"}]}, f)
    s = Server("--api-keys", kf)
    alice, mallory = s.client("sk-probe-alice-01"), s.client("sk-probe-mallory")
    line = {"custom_id": "a", "method": "POST", "url": CHAT, "body": body(1)}
    f = alice.files.create(file=("in.jsonl", (json.dumps(line) + "\n").encode()), purpose="batch")
    b = alice.batches.create(input_file_id=f.id, endpoint=CHAT, completion_window="24h")
    while alice.batches.retrieve(b.id).status not in ("completed", "failed"):
        time.sleep(0.2)
    out = alice.batches.retrieve(b.id).output_file_id
    h = {"Authorization": "Bearer sk-probe-mallory"}
    calls = [("GET", f"/v1/files/{f.id}"), ("GET", f"/v1/files/{f.id}/content"), ("DELETE", f"/v1/files/{f.id}"),
             ("GET", f"/v1/files/{out}"), ("GET", f"/v1/files/{out}/content"), ("GET", f"/v1/batches/{b.id}"),
             ("POST", f"/v1/batches/{b.id}/cancel")]
    statuses = [httpx.request(m, s.base + p, headers=h, timeout=10).status_code for m, p in calls]
    listed = [x.id for x in mallory.files.list()] + [x.id for x in mallory.batches.list()]
    rows = s.rows("batch_id = ?", (b.id,))
    print(f"keys: mallory on alice's objects: {statuses} (all 404: {all(x == 404 for x in statuses)}); "
          f"mallory's lists show {len(listed)} of them; alice's batch line billed to {[r['key_name'] for r in rows]}")
    s.stop()


if __name__ == "__main__":
    probes = {"kill9": kill9, "storm": storm, "disk": disk, "keys": keys}
    for name in sys.argv[1:] or probes:
        probes[name]()
