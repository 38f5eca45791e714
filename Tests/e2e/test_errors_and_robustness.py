"""Bad input, limits, auth, disconnects and shutdown against the real server."""
import json
import random
import signal
import socket
import threading
import time

import httpx
import openai
import pytest

from conftest import MODEL_ID, Server

CHAT = "/v1/chat/completions"


def post(server, path, body, **kw):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(server.base + path, content=data, headers={"content-type": "application/json"}, timeout=60, **kw)


def assert_error(response, status, param=None, code=None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    assert len(response.headers["x-request-id"]) == 24


def msgs(text="Hi"):
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("field,value", [
    ("temperature", -1), ("temperature", 3), ("top_p", 0), ("top_p", 1.5), ("n", 0), ("max_tokens", 0),
    ("presence_penalty", 5), ("top_k", -2), ("min_p", 2), ("logit_bias", {"999999": 1}),
])
def test_out_of_range_values(server, field, value):
    body = {"model": MODEL_ID, "messages": msgs(), field: value}
    assert_error(post(server, CHAT, body), 400, param=field)


def test_openai_client_raises_bad_request(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL_ID, messages=msgs(), temperature=-1)
    assert e.value.body["param"] == "temperature"


@pytest.mark.parametrize("body,param", [
    ({"model": MODEL_ID}, "messages"),
    ({"messages": msgs()}, "model"),
    ({"model": MODEL_ID, "messages": "hi"}, "messages"),
    ({"model": MODEL_ID, "messages": msgs(), "temperature": "hot"}, "temperature"),
    ({"model": MODEL_ID, "messages": msgs(), "stream": "yes"}, "stream"),
    ({"model": MODEL_ID, "messages": [{"role": "user"}]}, "messages[0].content"),
    ({"model": MODEL_ID, "messages": msgs(), "stop": 5}, "stop"),
])
def test_missing_fields_and_wrong_types(server, body, param):
    assert_error(post(server, CHAT, body), 400, param=param)


def test_malformed_bodies(server):
    for body in [b"{", b"", b"[1,2]", b"null", b"\xff\xfe", b'{"model": "x", "messages": [}']:
        assert_error(post(server, CHAT, body), 400)


def test_unknown_model_route_and_method(server):
    assert_error(post(server, CHAT, {"model": "gpt-4o", "messages": msgs()}), 404, param="model", code="model_not_found")
    assert_error(httpx.get(server.base + "/v1/nothing-here"), 404)
    assert_error(httpx.get(server.base + "/favicon.ico"), 404)
    r = httpx.get(server.base + CHAT)
    assert_error(r, 405)
    assert r.headers["allow"] == "POST"


def test_body_too_large(server):
    assert_error(post(server, CHAT, b"{" + b" " * (9 << 20) + b"}"), 413)


def test_prompt_longer_than_context(server):
    body = {"model": MODEL_ID, "prompt": "hello " * 9000, "max_tokens": 4}
    assert_error(post(server, "/v1/completions", body), 400, param="prompt", code="context_length_exceeded")


def test_unknown_fields_are_ignored(server):
    body = {"model": MODEL_ID, "messages": msgs(), "max_tokens": 2, "tools_whatever": {"x": 1}, "user": "u1"}
    assert post(server, CHAT, body).status_code == 200


def test_full_queue_is_429_with_retry_after():
    s = Server("--max-queue", "0")
    try:
        r = post(s, CHAT, {"model": MODEL_ID, "messages": msgs(), "max_tokens": 2})
        assert_error(r, 429, code="queue_full")
        assert r.headers["retry-after"] == "1"
        with pytest.raises(openai.RateLimitError):
            s.client().chat.completions.create(model=MODEL_ID, messages=msgs(), max_tokens=2)
    finally:
        assert s.stop() == 0


def test_api_keys(tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"key": "sk-wafer-test-1234", "name": "alice"}]}))
    s = Server("--api-keys", str(keys))
    try:
        assert httpx.get(s.base + "/health").status_code == 200
        for headers in [{}, {"authorization": "Bearer sk-wafer-test-1235"}, {"authorization": "sk-wafer-test-1234"}]:
            assert_error(httpx.get(s.base + "/v1/models", headers=headers), 401, code="invalid_api_key")
        with pytest.raises(openai.AuthenticationError):
            s.client("wrong-key-000").models.list()
        assert [m.id for m in s.client("sk-wafer-test-1234").models.list()] == [MODEL_ID]
        assert "sk-wafer-test-1234" not in "".join(s.log)
    finally:
        assert s.stop() == 0


def wait_for(predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_disconnect_cancels_generation(server):
    before = server.metrics().get('wafer_requests_finished_total{finish_reason="cancelled"}', 0)
    body = {"model": MODEL_ID, "messages": msgs("Tell me a story."), "max_tokens": 4000, "ignore_eos": True, "stream": True}
    with httpx.stream("POST", server.base + CHAT, json=body, timeout=60) as r:
        lines = r.iter_lines()
        for _ in range(6):
            next(lines)
    # Non-streamed: the client hangs up while the server is still generating.
    sock = socket.create_connection(("127.0.0.1", server.port))
    payload = json.dumps({"model": MODEL_ID, "messages": msgs("Tell me a story."), "max_tokens": 4000, "ignore_eos": True})
    sock.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n{payload}".encode())
    time.sleep(0.5)
    sock.close()
    key = 'wafer_requests_finished_total{finish_reason="cancelled"}'
    assert wait_for(lambda: server.metrics().get(key, 0) >= before + 2 and server.metrics()["wafer_active_sequences"] == 0)


def test_fuzzed_bodies_never_take_the_server_down(server):
    rng = random.Random(1234)
    # The limit is given twice, so no single mutation (a mangled key, a null) can leave a request unbounded.
    valid = {"model": MODEL_ID, "messages": msgs("Hello"), "max_tokens": 3, "max_completion_tokens": 3, "temperature": 0.5,
             "stop": ["x"], "n": 1}
    values = [None, True, -1, 0, 1e308, "", "x" * 1000, [], {}, [1, "a"], {"a": None}, 2**63, -2**63, 0.5]
    statuses = set()
    for i in range(250):
        kind = i % 3
        if kind == 0:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        elif kind == 1:
            text = json.dumps(valid)
            cut = rng.randrange(len(text))
            body = (text[:cut] + text[cut + 1:]).encode() if rng.random() < 0.5 else text[:cut].encode()
        else:
            mutated = dict(valid)
            key = rng.choice(list(mutated) + ["messages"])
            if key == "messages":
                mutated[key] = [{"role": rng.choice(["user", 5, None]), "content": rng.choice(values)}]
            else:
                mutated[key] = rng.choice(values)
            body = json.dumps(mutated).encode()
        path = rng.choice([CHAT, "/v1/completions"])
        r = post(server, path, body)
        statuses.add(r.status_code)
        assert r.status_code in (200, 400, 404, 413), r.text
    assert 400 in statuses
    assert httpx.get(server.base + "/health").status_code == 200


def test_slow_and_half_closed_clients(server):
    # A client that sends half a request and stalls, and one that closes its write side after the headers.
    slow = socket.create_connection(("127.0.0.1", server.port))
    slow.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mo")
    half = socket.create_connection(("127.0.0.1", server.port))
    half.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n")
    half.shutdown(socket.SHUT_WR)
    assert httpx.get(server.base + "/health", timeout=5).status_code == 200
    r = post(server, CHAT, {"model": MODEL_ID, "messages": msgs(), "max_tokens": 2})
    assert r.status_code == 200
    slow.close()
    half.close()


def test_64_concurrent_streams_all_finish(server):
    results = [None] * 64

    def run(i):
        body = {"model": MODEL_ID, "messages": msgs(f"Count to {i}."), "max_tokens": 12, "stream": True}
        with httpx.stream("POST", server.base + CHAT, json=body, timeout=120) as r:
            results[i] = [line for line in r.iter_lines() if line][-1]
    threads = [threading.Thread(target=run, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["data: [DONE]"] * 64


def test_metrics_are_prometheus_text(server):
    r = httpx.get(server.base + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    m = server.metrics()
    for name in ["wafer_time_to_first_token_seconds_count", "wafer_inter_token_latency_seconds_count",
                 "wafer_request_latency_seconds_count", "wafer_generated_tokens_total", "wafer_active_sequences"]:
        assert name in m
    assert m['wafer_time_to_first_token_seconds_bucket{le="+Inf"}'] == m["wafer_time_to_first_token_seconds_count"] > 0


def test_sigterm_finishes_streams_in_flight():
    s = Server("--shutdown-grace", "20")
    body = {"model": MODEL_ID, "messages": msgs("Tell me a story."), "max_tokens": 40, "ignore_eos": True, "stream": True}
    with httpx.stream("POST", s.base + CHAT, json=body, timeout=60) as r:
        lines = r.iter_lines()
        next(lines)
        s.process.send_signal(signal.SIGTERM)
        rest = [line for line in lines if line]
    assert rest[-1] == "data: [DONE]"
    assert sum('"finish_reason":"length"' in line for line in rest) == 1, "the request ran to its end within the grace period"
    assert s.process.wait(timeout=30) == 0
