"""Cost on every response and a ledger that loses nothing."""
import json
import signal
import threading
import time
from decimal import Decimal

import httpx

from conftest import MODEL_ID, Server

CHAT = "/v1/chat/completions"
RATE = Decimal("0.5")  # the built-in on-demand rate


def ask(server, content="What is 2+2?", headers=None, **kw):
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": content}], "max_tokens": 8, "temperature": 0, **kw}
    return httpx.post(server.base + CHAT, json=body, headers=headers or {}, timeout=120)


def test_header_cost_is_exact_and_matches_the_ledger(server):
    r = ask(server)
    h = r.headers
    prompt, completion = int(h["x-wafer-prompt-tokens"]), int(h["x-wafer-completion-tokens"])
    assert int(h["x-wafer-total-tokens"]) == prompt + completion
    assert Decimal(h["x-wafer-price-usd-per-mtok"]) == RATE and h["x-wafer-tier"] == "on-demand" and h["x-wafer-route"] == "local"
    assert Decimal(h["x-wafer-cost-usd"]) == (prompt + completion) * RATE / 1_000_000
    usage = r.json()["usage"]
    assert Decimal(str(usage["cost_usd"])) == Decimal(h["x-wafer-cost-usd"])
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (prompt, completion)
    [row] = server.rows("request_id = ?", (h["x-request-id"],))
    assert (row["prompt_tokens"], row["completion_tokens"], row["status"]) == (prompt, completion, 200)
    assert Decimal(row["cost_usd"]) == Decimal(h["x-wafer-cost-usd"]) and row["key_name"] == "anonymous"
    assert row["finish_reason"] in ("stop", "length") and row["duration"] > 0


def test_streamed_usage_carries_the_cost_and_the_row_is_written(server):
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6, "stream": True,
            "stream_options": {"include_usage": True}}
    with httpx.stream("POST", server.base + CHAT, json=body, timeout=60) as r:
        request_id = r.headers["x-request-id"]
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    usage = events[-1]["usage"]
    assert Decimal(str(usage["cost_usd"])) == (usage["prompt_tokens"] + usage["completion_tokens"]) * RATE / 1_000_000
    [row] = server.rows("request_id = ?", (request_id,))
    assert row["completion_tokens"] == usage["completion_tokens"] and Decimal(row["cost_usd"]) == Decimal(str(usage["cost_usd"]))


def test_cancelled_streams_bill_the_tokens_produced(server):
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 3000,
            "ignore_eos": True, "stream": True}
    with httpx.stream("POST", server.base + CHAT, json=body, timeout=60) as r:
        request_id = r.headers["x-request-id"]
        lines = r.iter_lines()
        for _ in range(10):
            next(lines)
    deadline = time.time() + 15
    while time.time() < deadline and not server.rows("request_id = ? AND finish_reason != 'running'", (request_id,)):
        time.sleep(0.1)
    [row] = server.rows("request_id = ?", (request_id,))
    assert row["finish_reason"] == "cancelled" and 4 <= row["completion_tokens"] < 3000
    assert Decimal(row["cost_usd"]) == (row["prompt_tokens"] + row["completion_tokens"]) * RATE / 1_000_000


def test_refused_requests_get_a_row(server):
    r = ask(server, temperature=-1)
    assert r.status_code == 400
    [row] = server.rows("request_id = ?", (r.headers["x-request-id"],))
    assert row["status"] == 400 and row["completion_tokens"] == 0 and Decimal(row["cost_usd"]) == 0


def test_tiers_prices_and_per_key_sums(tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"key": "sk-on-demand-0001", "name": "alice"},
                                         {"key": "sk-reserved-00002", "name": "bob", "tier": "reserved"}]}))
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"models": {"*": {"on_demand_usd_per_mtok": 0.61, "reserved_usd_per_mtok": 0.27,
                                                   "reserved_commitment_tokens_per_month": 1000}}}))
    s = Server("--api-keys", str(keys), "--prices", str(prices))
    try:
        headers_seen = {"alice": [], "bob": []}
        lock = threading.Lock()

        def client(name, key, count):
            for i in range(count):
                r = ask(s, f"Say {i}.", headers={"authorization": f"Bearer {key}"}, max_tokens=2)
                assert r.status_code == 200, r.text
                with lock:
                    headers_seen[name].append(r.headers)
        # 8 concurrent clients, 4 per key.
        threads = [threading.Thread(target=client, args=(n, k, 25)) for n, k in
                   [("alice", "sk-on-demand-0001"), ("bob", "sk-reserved-00002")] * 4]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {h["x-wafer-tier"] for h in headers_seen["bob"]} == {"reserved"}
        assert {h["x-wafer-price-usd-per-mtok"] for h in headers_seen["alice"]} == {"0.61"}
        for name in ["alice", "bob"]:
            rows = s.rows("key_name = ?", (name,))
            assert len(rows) == 100
            assert sum(Decimal(r["cost_usd"]) for r in rows) == sum(Decimal(h["x-wafer-cost-usd"]) for h in headers_seen[name])
            assert sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows) == \
                sum(int(h["x-wafer-total-tokens"]) for h in headers_seen[name])
    finally:
        assert s.stop() == 0


def test_kill_9_loses_no_acknowledged_row():
    s = Server()
    acknowledged, stop = [], threading.Event()
    lock = threading.Lock()

    def client(i):
        n = 0
        while not stop.is_set():
            try:
                r = ask(s, f"Count to {i}-{n}.", max_tokens=4)
            except httpx.HTTPError:
                return  # the server died under us: nothing acknowledged
            if r.status_code == 200:
                with lock:
                    acknowledged.append(r.headers["x-request-id"])
            n += 1
    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    time.sleep(4)
    s.process.send_signal(signal.SIGKILL)
    s.process.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) > 20
    ids = {r["request_id"] for r in s.rows()}
    assert set(acknowledged) <= ids, f"{len(set(acknowledged) - ids)} acknowledged requests have no row"


def test_usage_api_and_commands(tmp_path):
    import subprocess
    from conftest import ROOT, WAFER
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"key": "sk-usage-alice-01", "name": "alice"},
                                         {"key": "sk-usage-admin-01", "name": "ops", "admin": True}]}))
    s = Server("--api-keys", str(keys))
    try:
        alice = {"authorization": "Bearer sk-usage-alice-01"}
        admin = {"authorization": "Bearer sk-usage-admin-01"}
        costs = [Decimal(ask(s, f"Say {i}.", headers=h, max_tokens=2).headers["x-wafer-cost-usd"]) for i, h in enumerate([alice, alice, admin])]
        mine = httpx.get(s.base + "/v1/usage", headers=alice).json()
        assert [d["group"] for d in mine["data"]] == ["alice"] and mine["total"]["requests"] == 2
        assert Decimal(str(mine["total"]["cost_usd"])) == costs[0] + costs[1]
        everyone = httpx.get(s.base + "/v1/usage?group_by=model", headers=admin).json()
        assert everyone["total"]["requests"] == 3 and Decimal(str(everyone["total"]["cost_usd"])) == sum(costs)
        assert [r["provider"] for r in everyone["reference"]] == ["GPT-4.1", "Claude Opus"]
        assert httpx.get(s.base + "/v1/usage?group_by=week", headers=admin).status_code == 400
        assert httpx.get(s.base + "/v1/usage?from=yesterday", headers=admin).status_code == 400
        admin_request = s.rows("key_name = 'ops'")[0]["request_id"]
        assert httpx.get(s.base + f"/v1/usage/requests/{admin_request}", headers=alice).status_code == 404
        one = httpx.get(s.base + f"/v1/usage/requests/{admin_request}", headers=admin).json()
        assert one["key_name"] == "ops" and Decimal(str(one["cost_usd"])) == costs[2]
    finally:
        assert s.stop() == 0
    out = subprocess.run([str(WAFER), "usage", "--db", s.ledger, "--format", "json"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    assert report["total"]["requests"] == 3 and Decimal(str(report["total"]["cost_usd"])) == sum(costs)
    table = subprocess.run([str(WAFER), "usage", "--db", s.ledger], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "alice" in table and "GPT-4.1" in table


def test_plan_arithmetic():
    import subprocess
    from conftest import ROOT, WAFER
    out = subprocess.run([str(WAFER), "plan", "--tokens", "1e9", "--prompt-tokens", "500", "--completion-tokens", "100",
                          "--throughput", "1000", "--daily-tokens", "200000000"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "= 11.57 days on one instance" in out
    assert "on demand       $500 at $0.5/M" in out
    assert "needs 3 instances" in out  # 2e8 / (1000 × 86400) = 2.3
    assert "GPT-4.1         $3000" in out
