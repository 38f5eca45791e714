"""Smaller gaps found by hostile testing (issue 20): streams cut by the server say so,
odd JSON is refused clearly, a failed write names no server path, a model that
cannot load stops the server."""
import json
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import MODEL_ID, ROOT, WAFER, Server

CHAT = "/v1/chat/completions"


def raw_post(server, body: bytes, path=CHAT):
    return httpx.post(server.base + path, content=body, headers={"content-type": "application/json"}, timeout=60)


def assert_error(r, status, param=None):
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if param is not None:
        assert error["param"] == param, error
    return error


def test_a_stream_cut_by_shutdown_ends_with_an_error_not_done():
    s = Server("--shutdown-grace", "0")
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 3000,
            "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", s.base + CHAT, json=body, timeout=60) as r:
        request_id = r.headers["x-request-id"]
        lines = r.iter_lines()
        for _ in range(6):
            next(lines)
        s.process.send_signal(signal.SIGTERM)
        rest = [line for line in lines if line]
    assert s.process.wait(timeout=30) == 0
    assert "data: [DONE]" not in rest
    assert not any('"finish_reason":"stop"' in line for line in rest)
    last = json.loads(rest[-1].removeprefix("data: "))
    assert set(last["error"]) == {"message", "type", "param", "code"} and "shutting down" in last["error"]["message"]
    [row] = s.rows("request_id = ?", (request_id,))
    assert row["finish_reason"] == "cancelled" and row["status"] == 503 and row["completion_tokens"] > 0


def test_unknown_role_is_refused(server):
    body = {"model": MODEL_ID, "messages": [{"role": "robot", "content": "Hi"}]}
    error = assert_error(raw_post(server, json.dumps(body).encode()), 400, param="messages[0].role")
    assert "robot" in error["message"]


@pytest.mark.parametrize("body", [
    b'{"model": "%s", "max_tokens": 1, "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]}' % MODEL_ID.encode(),
    b'{"model": "%s", "messages": [{"role": "user", "role": "system", "content": "Hi"}]}' % MODEL_ID.encode(),
    b'{"model": "%s", "messages": [{"role": "user", "content": "Hi"}], "m\\u006fdel": "x"}' % MODEL_ID.encode(),
])
def test_duplicate_keys_are_refused(server, body):
    error = assert_error(raw_post(server, body), 400)
    assert error["code"] == "duplicate_key"


def test_same_key_in_different_objects_is_fine(server):
    body = {"model": MODEL_ID, "max_tokens": 1, "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                                              {"role": "user", "content": "c"}]}
    assert raw_post(server, json.dumps(body).encode()).status_code == 200


@pytest.mark.parametrize("content", [b'"bad \xff\xfe bytes"', b'"lone \\ud800 surrogate"', b'"nul \x00 byte"'])
def test_content_that_is_not_text_names_the_field(server, content):
    body = b'{"model": "%s", "max_tokens": 1, "messages": [{"role": "user", "content": %s}]}' % (MODEL_ID.encode(), content)
    error = assert_error(raw_post(server, body), 400)
    assert "expected an array" not in error["message"]


def test_failed_upload_names_no_server_path(tmp_path):
    s = Server()
    try:
        files = Path(s.data_dir) / "files"
        shutil.rmtree(files)
        files.write_text("not a directory")  # every write under it now fails
        r = httpx.post(s.base + "/v1/files", files={"file": ("in.jsonl", b"{}\n")}, data={"purpose": "batch"}, timeout=30)
        error = assert_error(r, 500)
        assert s.data_dir not in error["message"] and "/" not in error["message"].replace("/v1", "")
    finally:
        assert s.stop() == 0


def test_serve_exits_when_the_model_cannot_load(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    run = subprocess.run([str(WAFER), "serve", "--port", "0", "--model", str(bad), "--data-dir", str(tmp_path / "d")],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "error:" in run.stderr and "broken.gguf" in run.stderr


def test_a_whole_response_cut_by_shutdown_keeps_its_billed_row():
    """The 503 of a request the shutdown cut short is metered with its tokens, not overwritten as refused."""
    s = Server("--shutdown-grace", "0")
    result = {}

    def ask():
        body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 3000, "ignore_eos": True}
        result["r"] = httpx.post(s.base + CHAT, json=body, timeout=60)
    import threading
    import time
    t = threading.Thread(target=ask)
    t.start()
    time.sleep(1.5)
    s.process.send_signal(signal.SIGTERM)
    t.join()
    assert s.process.wait(timeout=30) == 0
    r = result["r"]
    assert r.status_code == 503, r.text
    [row] = s.rows("request_id = ?", (r.headers["x-request-id"],))
    assert row["finish_reason"] == "cancelled" and row["status"] == 503 and row["completion_tokens"] > 0
