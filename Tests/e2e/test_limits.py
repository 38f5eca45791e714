"""Every request limit of `wafer serve` at its edge (issue 21): the value at the
limit passes, one past it gets the error the README names, in OpenAI's shape.
(Connection counts and header/body deadlines: test_connection_limits.py.)"""
import json
import socket
import subprocess
import threading
import time

import httpx
import pytest

from conftest import MODEL_ID, ROOT, WAFER, Server

CHAT = "/v1/chat/completions"


def chat(**fields):
    return {"model": MODEL_ID, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2, **fields}


@pytest.fixture(scope="module")
def limited():
    s = Server("--max-header-bytes", "8192", "--max-body-bytes", "4096", "--max-n", "2", "--max-stop", "2",
               "--max-prompt-tokens", "32", "--ctx", "64")
    yield s
    assert s.stop() == 0


def raw_request(port, head):
    """Sends a raw HTTP request head; returns the status code of the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(head)
        reply = b""
        while b"\r\n" not in reply:
            chunk = c.recv(4096)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ", 2)[1])


def test_headers_up_to_the_limit_pass_and_past_it_get_431(limited):
    def head(padding):
        return b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * padding + b"\r\nConnection: close\r\n\r\n"
    assert raw_request(limited.port, head(4000)) == 200
    assert raw_request(limited.port, head(8193)) == 431


def test_a_body_at_the_limit_passes_and_one_byte_more_is_413(limited):
    body = json.dumps(chat())
    at_limit = body + " " * (4096 - len(body))
    r = httpx.post(limited.base + CHAT, content=at_limit, headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 200, r.text
    r = httpx.post(limited.base + CHAT, content=at_limit + " ", headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 413
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_n_up_to_max_n(limited):
    assert len(httpx.post(limited.base + CHAT, json=chat(n=2), timeout=60).json()["choices"]) == 2
    r = httpx.post(limited.base + CHAT, json=chat(n=3), timeout=60)
    assert r.status_code == 400 and r.json()["error"]["param"] == "n"
    assert "at most 2" in r.json()["error"]["message"]


def test_stop_strings_up_to_max_stop(limited):
    assert httpx.post(limited.base + CHAT, json=chat(stop=["a", "b"]), timeout=60).status_code == 200
    r = httpx.post(limited.base + CHAT, json=chat(stop=["a", "b", "c"]), timeout=60)
    assert r.status_code == 400 and r.json()["error"]["param"] == "stop"


def test_prompt_tokens_up_to_max_prompt_tokens(limited):
    ok = httpx.post(limited.base + "/v1/completions", json={"model": MODEL_ID, "prompt": [1] * 32, "max_tokens": 1}, timeout=60)
    assert ok.status_code == 200, ok.text
    r = httpx.post(limited.base + "/v1/completions", json={"model": MODEL_ID, "prompt": [1] * 33, "max_tokens": 1}, timeout=60)
    error = r.json()["error"]
    assert r.status_code == 400 and error["param"] == "prompt" and error["code"] == "context_length_exceeded"
    r = httpx.post(limited.base + CHAT, json=chat(messages=[{"role": "user", "content": "word " * 40}]), timeout=60)
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"


def test_max_tokens_up_to_the_context(limited):
    assert httpx.post(limited.base + CHAT, json=chat(max_tokens=64), timeout=60).status_code == 200
    r = httpx.post(limited.base + CHAT, json=chat(max_tokens=65), timeout=60)
    assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens"


@pytest.fixture(scope="module")
def slow():
    s = Server("--request-timeout", "1.5", "--max-batch", "1", "--max-queue", "1")
    yield s
    assert s.stop() == 0


LONG = chat(max_tokens=8000, ignore_eos=True)


def test_a_request_past_the_timeout_is_504_and_billed(slow):
    r = httpx.post(slow.base + CHAT, json=LONG, timeout=60)
    assert r.status_code == 504, r.text
    assert r.json()["error"]["code"] == "request_timeout"
    row = slow.rows("request_id = ?", (r.headers["x-request-id"],))[0]
    assert row["status"] == 504 and row["completion_tokens"] > 0 and row["finish_reason"] == "cancelled"


def test_a_stream_past_the_timeout_ends_with_an_error_event(slow):
    events = []
    with httpx.stream("POST", slow.base + CHAT, json={**LONG, "stream": True}, timeout=60) as r:
        assert r.status_code == 200
        request_id = r.headers["x-request-id"]
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] != "[DONE]"
    assert json.loads(events[-1])["error"]["code"] == "request_timeout"
    assert slow.rows("request_id = ?", (request_id,))[0]["status"] == 504


def test_the_queue_holds_max_queue_then_429(slow):
    """One request runs (max-batch 1), one waits (max-queue 1): the third is refused at once."""
    results = []
    running = threading.Thread(target=lambda: results.append(httpx.post(slow.base + CHAT, json=LONG, timeout=60)))
    running.start()
    time.sleep(0.3)
    waiting = threading.Thread(target=lambda: results.append(httpx.post(slow.base + CHAT, json=LONG, timeout=60)))
    waiting.start()
    time.sleep(0.3)
    r = httpx.post(slow.base + CHAT, json=chat(), timeout=60)
    assert r.status_code == 429 and r.headers.get("retry-after")
    running.join()
    waiting.join()
    # The one that ran and the one that waited both met the timeout (queue time counts).
    assert sorted(x.status_code for x in results) == [504, 504]


@pytest.mark.parametrize("flags, says", [
    (["--max-n", "0"], "--max-n must be 1 to 128"), (["--max-n", "129"], "--max-n must be 1 to 128"),
    (["--request-timeout", "0"], "--request-timeout positive"), (["--max-header-bytes", "100"], "--max-header-bytes must be at least"),
    (["--ledger", "postgresql://nobody@127.0.0.1:1/none"], "cannot connect to PostgreSQL"),
])
def test_bad_limit_flags_and_an_unreachable_ledger_refuse_to_start(flags, says):
    r = subprocess.run([str(WAFER), "serve", "--port", "0", *flags], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and says in r.stderr, r.stderr
