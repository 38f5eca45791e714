"""The overflow route (issue 17): a second `wafer serve` on loopback is the upstream;
a small misbehaving HTTP peer stands in for upstream failures (500, malformed JSON,
a truncated stream, a slow first byte). Every request gets a clean answer or
error, the server survives, and every request has exactly one ledger row."""
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from conftest import MODEL_ID, Server

CHAT = "/v1/chat/completions"
PROMPT_RATE, COMPLETION_RATE = Decimal("0.80"), Decimal("2.40")


def body(stream=False, max_tokens=8, text="Hi"):
    return {"model": MODEL_ID, "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens, "stream": stream,
            "stream_options": {"include_usage": True} if stream else None}


def post(server, b):
    return httpx.post(server.base + CHAT, json={k: v for k, v in b.items() if v is not None}, timeout=120)


def one_row_each(server, request_ids):
    rows = server.rows()
    by_id = {}
    for r in rows:
        by_id.setdefault(r["request_id"], []).append(r)
    for rid in request_ids:
        assert len(by_id.get(rid, [])) == 1, f"request {rid} has {len(by_id.get(rid, []))} rows"
    assert all(r["finish_reason"] != "running" for r in rows)
    return {rid: by_id[rid][0] for rid in request_ids}


@pytest.fixture(scope="module")
def upstream():
    s = Server()
    yield s
    assert s.stop() == 0


def test_depth_zero_sends_everything_upstream(upstream):
    front = Server("--upstream", upstream.base + "/v1", "--overflow-queue-depth", "0")
    try:
        r = post(front, body())
        assert r.status_code == 200, r.text
        h, usage = r.headers, r.json()["usage"]
        assert h["x-wafer-route"] == "fallback" and h["x-wafer-upstream"] == "Together"
        assert Decimal(h["x-wafer-prompt-price-usd-per-mtok"]) == PROMPT_RATE
        assert Decimal(h["x-wafer-completion-price-usd-per-mtok"]) == COMPLETION_RATE
        expected = (usage["prompt_tokens"] * PROMPT_RATE + usage["completion_tokens"] * COMPLETION_RATE) / 1_000_000
        assert Decimal(h["x-wafer-cost-usd"]) == expected == Decimal(str(usage["cost_usd"]))
        assert r.json()["id"] == "chatcmpl-" + h["x-request-id"], "Wafer's own ids"

        c = front.client()
        stream = c.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "Count to five."}], max_tokens=12,
                                           stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        assert text and chunks[-1].usage.completion_tokens > 0 and chunks[-1].usage.model_extra["cost_usd"] > 0
        rows = one_row_each(front, [h["x-request-id"]])
        row = rows[h["x-request-id"]]
        assert row["served_by"] == "fallback" and row["upstream"] == "Together" and Decimal(row["cost_usd"]) == expected
        m = front.metrics()
        assert m['wafer_requests_by_route_total{route="fallback"}'] == 2 and m['wafer_requests_by_route_total{route="local"}'] == 0
        assert m["wafer_upstream_first_event_seconds_count"] == 2
    finally:
        assert front.stop() == 0


def test_a_burst_overflows_and_the_costs_add_up(upstream):
    front = Server("--upstream", upstream.base + "/v1", "--overflow-queue-depth", "8", "--max-batch", "4")

    def one(i):
        r = post(front, body(max_tokens=24, text=f"Tell me about the number {i}.") | {"ignore_eos": True})
        return r.status_code, r.headers.get("x-wafer-route"), Decimal(r.headers.get("x-wafer-cost-usd", "0")), r.headers["x-request-id"]
    try:
        with ThreadPoolExecutor(64) as pool:
            results = list(pool.map(one, range(64)))
        assert all(status == 200 for status, *_ in results), results
        routes = [route for _, route, _, _ in results]
        assert routes.count("fallback") > 0 and routes.count("local") > 0, routes
        usage = httpx.get(front.base + "/v1/usage", timeout=10).json()
        assert Decimal(str(usage["total"]["cost_usd"])) == sum(cost for *_, cost, _ in results)
        split = {line["group"]: line for line in usage["by_route"]}
        for route in ("local", "fallback"):
            assert split[route]["requests"] == routes.count(route)
            assert Decimal(str(split[route]["cost_usd"])) == sum(c for _, r, c, _ in results if r == route)
        one_row_each(front, [rid for *_, rid in results])
    finally:
        assert front.stop() == 0


def test_upstream_down_or_refusing_is_served_locally(tmp_path):
    refusing = Server("--max-queue", "0")  # answers every generation with 429
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    try:
        for url in (f"http://127.0.0.1:{dead_port}/v1", refusing.base + "/v1"):
            front = Server("--upstream", url, "--overflow-queue-depth", "0")
            try:
                ids = []
                for stream in (False, True):
                    r = post(front, body(stream=stream))
                    assert r.status_code == 200 and r.headers.get("x-wafer-route", "local") == "local", r.text
                    ids.append(r.headers["x-request-id"])
                assert all(row["served_by"] == "local" for row in one_row_each(front, ids).values())
                errors = sum(v for k, v in front.metrics().items() if k.startswith("wafer_upstream_errors_total"))
                assert errors == 2
            finally:
                assert front.stop() == 0
        full = Server("--upstream", f"http://127.0.0.1:{dead_port}/v1", "--overflow-queue-depth", "0", "--max-queue", "0")
        try:
            r = post(full, body())
            assert r.status_code == 503 and r.headers["retry-after"], r.text
            assert set(r.json()["error"]) == {"message", "type", "param", "code"}
        finally:
            assert full.stop() == 0
    finally:
        assert refusing.stop() == 0


class Misbehaving(BaseHTTPRequestHandler):
    """An upstream that fails in the way its path says."""
    mode = "500"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        mode = type(self).mode
        if mode == "500":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b'{"error": "boom"}')
            return
        if mode == "slow":
            time.sleep(3)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        chunk = {"choices": [{"index": 0, "delta": {"content": "word "}}]}
        if mode == "malformed":
            self.wfile.write(b"data: {not json\n\n")
        elif mode in ("truncated", "slow"):
            for _ in range(3):
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                self.wfile.flush()
            if mode == "slow":
                self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


@pytest.mark.parametrize("mode", ["500", "malformed", "slow", "truncated"])
def test_a_misbehaving_upstream_gets_clean_answers(mode):
    Misbehaving.mode = mode
    peer = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    threading.Thread(target=peer.serve_forever, daemon=True).start()
    front = Server("--upstream", f"http://127.0.0.1:{peer.server_address[1]}/v1", "--overflow-queue-depth", "0",
                   "--upstream-timeout", "1")
    try:
        ids = []
        plain = post(front, body())
        ids.append(plain.headers["x-request-id"])
        with httpx.stream("POST", front.base + CHAT, json={**body(stream=True)}, timeout=60) as r:
            ids.append(r.headers["x-request-id"])
            status, events = r.status_code, [line for line in r.iter_lines() if line]
        if mode == "truncated":  # failed after its first byte: an error, and a row for what was delivered
            assert plain.status_code == 502 and plain.json()["error"]["code"] == "upstream_error"
            assert status == 200 and events[-1] != "data: [DONE]" and events[-1].startswith('data: {"error"')
            assert any('"content":"word "' in e for e in events), "the text delivered before the failure"
            rows = one_row_each(front, ids)
            assert all(row["status"] == 502 and row["served_by"] == "fallback" and row["completion_tokens"] > 0 for row in rows.values())
        else:  # failed before its first byte: served locally
            assert plain.status_code == 200 and plain.headers.get("x-wafer-route") == "local", plain.text
            assert status == 200 and events[-1] == "data: [DONE]"
            assert all(row["served_by"] == "local" for row in one_row_each(front, ids).values())
        assert httpx.get(front.base + "/health", timeout=5).status_code == 200
    finally:
        assert front.stop() == 0
        peer.shutdown()


def test_plan_reproduces_the_seeds_hybrid_pattern(tmp_path):
    """Seed pattern 3: 50M tokens/day here at $0.60/M reserved, 20M/day burst at Together's $0.80/$2.40."""
    import subprocess
    from conftest import ROOT, WAFER
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({
        "models": {"*": {"on_demand_usd_per_mtok": 1.50, "reserved_usd_per_mtok": 0.60, "reserved_commitment_tokens_per_month": 10000000}},
        "upstream": {"name": "Together", "prompt_usd_per_mtok": 0.80, "completion_usd_per_mtok": 2.40}}))
    run = subprocess.run([str(WAFER), "plan", "--tokens", "1.5e9", "--prompt-tokens", "500", "--completion-tokens", "500",
                          "--throughput", "5000", "--daily-tokens", "5e7", "--burst-daily-tokens", "2e7", "--prices", str(prices)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    # $30/day here (the seed's figure); the burst split half and half: 10M × $0.80 + 10M × $2.40 = $32/day.
    assert "here $900 + burst $960 = $1860" in run.stdout and "all at Together $3360" in run.stdout, run.stdout


def test_the_upstream_key_and_model_name_are_sent(tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"key": "sk-upstream-secret-1", "name": "front"}]}))
    upstream = Server("--api-keys", str(keys), "--model-alias", "upstream-name")
    key_file = tmp_path / "upstream.key"
    key_file.write_text("sk-upstream-secret-1\n")
    wrong = tmp_path / "wrong.key"
    wrong.write_text("sk-not-the-key")
    try:
        for key, route in ((key_file, "fallback"), (wrong, "local")):
            front = Server("--upstream", upstream.base + "/v1", "--overflow-queue-depth", "0", "--upstream-key-file", str(key),
                           "--upstream-model", "upstream-name")
            try:
                r = post(front, body())
                assert r.status_code == 200 and r.headers.get("x-wafer-route", "local") == route, r.text
            finally:
                assert front.stop() == 0
        [row] = [r for r in upstream.rows() if r["status"] == 200]
        assert row["key_name"] == "front", "the upstream billed the key from the key file"
    finally:
        assert upstream.stop() == 0


@pytest.mark.parametrize("args,message", [
    (["--upstream", "ftp://127.0.0.1/v1"], "--upstream must be an http(s) URL"),
    (["--overflow-queue-depth", "4"], "--overflow-queue-depth needs --upstream"),
    (["--upstream", "http://127.0.0.1:1/v1", "--upstream-key-file", "/nonexistent/key"], "cannot read the upstream key file"),
    (["--upstream", "http://127.0.0.1:1/v1", "--overflow-queue-depth", "-1"], "--overflow-queue-depth must be 0 or more"),
])
def test_bad_upstream_flags_are_usage_errors(args, message, tmp_path):
    import subprocess
    from conftest import ROOT, WAFER
    run = subprocess.run([str(WAFER), "serve", "--port", "0", "--data-dir", str(tmp_path), *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 2 and message in run.stderr, run.stderr
