"""The official openai client's Files and Batches calls against `wafer serve`."""
import io
import json
import signal
import time
from pathlib import Path

import openai
import pytest

from conftest import MODEL_ID, Server
from test_batch import make_input


def wait_for_status(client, batch_id, statuses, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        b = client.batches.retrieve(batch_id)
        if b.status in statuses:
            return b
        time.sleep(0.2)
    raise AssertionError(f"batch stayed {b.status}")


def test_files_and_batches_end_to_end(client, tmp_path):
    inp = tmp_path / "in.jsonl"
    expected = make_input(inp, 40)
    uploaded = client.files.create(file=("in.jsonl", inp.read_bytes()), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes == inp.stat().st_size
    assert client.files.retrieve(uploaded.id).filename == "in.jsonl"
    assert client.files.content(uploaded.id).read() == inp.read_bytes()
    assert uploaded.id in [f.id for f in client.files.list()]

    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h",
                                  metadata={"job": "test"})
    assert batch.status in ("validating", "in_progress") and batch.metadata == {"job": "test"}
    done = wait_for_status(client, batch.id, {"completed", "failed"})
    assert done.status == "completed", done
    assert done.request_counts.total == 40 and done.request_counts.completed + done.request_counts.failed == 40
    assert done.completed_at >= done.in_progress_at >= done.created_at
    outputs = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]
    errors = [json.loads(line) for line in client.files.content(done.error_file_id).text.splitlines()]
    assert len(outputs) + len(errors) == 40
    for o in outputs:
        assert o["response"]["status_code"] == expected[o["custom_id"]]
    assert any(b.id == batch.id for b in client.batches.list())
    assert client.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_bad_batch_requests(client):
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_doesnotexist")
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions", completion_window="24h")
    f = client.files.create(file=("x.jsonl", b"{}\n"), purpose="batch")
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=f.id, endpoint="/v1/embeddings", completion_window="24h")
    with pytest.raises(openai.BadRequestError):
        client.files.create(file=("x.jsonl", b"{}\n"), purpose="fine-tune")
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve("../../etc/passwd")


def test_cancel_and_restart_resume(tmp_path):
    inp = tmp_path / "in.jsonl"
    make_input(inp, 120, bad_every=0, max_tokens=48)  # ~20 s of work, so the stop lands mid-batch
    s = Server("--shutdown-grace", "1")
    c = s.client()
    f = c.files.create(file=("in.jsonl", inp.read_bytes()), purpose="batch")
    to_cancel = c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    cancelling = c.batches.cancel(to_cancel.id)
    assert cancelling.status in ("cancelling", "cancelled")
    assert wait_for_status(c, to_cancel.id, {"cancelled"}).status == "cancelled"

    running = c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    wait_for_status(c, running.id, {"in_progress"})
    time.sleep(2)
    # A graceful stop mid-batch: lines cut short are not answered with 503 but left for the restart.
    assert s.stop(signal.SIGTERM) == 0
    stopped = json.loads((Path(s.data_dir) / "batches" / f"{running.id}.json").read_text())
    assert stopped["batch"]["status"] == "in_progress"
    restarted = Server(data_dir=s.data_dir)
    try:
        c = restarted.client()
        done = wait_for_status(c, running.id, {"completed"})
        ids = [json.loads(line)["custom_id"] for line in c.files.content(done.output_file_id).text.splitlines()]
        assert len(ids) == 120 and len(set(ids)) == 120, "resumed without losing or repeating a line"
        statuses = {json.loads(line)["response"]["status_code"] for line in c.files.content(done.output_file_id).text.splitlines()}
        assert statuses == {200}
    finally:
        assert restarted.stop() == 0


def test_batch_lines_with_tools_schemas_and_the_responses_api(server, client, tmp_path):
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string", "maxLength": 30}}, "required": ["city"]}}}
    schema = {"type": "object", "properties": {"label": {"enum": ["spam", "ham"]}, "confidence": {"type": "number"}},
              "required": ["label", "confidence"], "additionalProperties": False}
    ask = [{"role": "user", "content": "Weather in Oslo?"}]
    lines = [
        {"custom_id": "tool", "url": "/v1/chat/completions", "body": {
            "model": MODEL_ID, "messages": ask, "tools": [weather], "tool_choice": "required", "max_tokens": 60, "temperature": 0}},
        {"custom_id": "schema", "url": "/v1/chat/completions", "body": {
            "model": MODEL_ID, "messages": [{"role": "user", "content": "Classify: WIN A FREE PRIZE"}], "max_tokens": 60,
            "temperature": 0, "response_format": {"type": "json_schema", "json_schema": {"name": "label", "schema": schema}}}},
        {"custom_id": "responses", "url": "/v1/responses", "body": {
            "model": MODEL_ID, "input": "Say hello.", "max_output_tokens": 8, "temperature": 0}},
        {"custom_id": "responses-tool", "url": "/v1/responses", "body": {
            "model": MODEL_ID, "input": "Weather in Oslo?", "tool_choice": "required", "max_output_tokens": 60,
            "tools": [{"type": "function", "name": "get_weather", "parameters": weather["function"]["parameters"]}]}},
    ]
    data = "".join(json.dumps({"method": "POST", **line}) + "\n" for line in lines).encode()
    uploaded = client.files.create(file=("mixed.jsonl", data), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    done = wait_for_status(client, batch.id, {"completed", "failed"})
    assert done.status == "completed" and done.request_counts.completed == 4, done
    bodies = {o["custom_id"]: o["response"]["body"] for o in map(json.loads, client.files.content(done.output_file_id).text.splitlines())}

    [call] = bodies["tool"]["choices"][0]["message"]["tool_calls"]
    assert bodies["tool"]["choices"][0]["finish_reason"] == "tool_calls" and call["function"]["name"] == "get_weather"
    assert isinstance(json.loads(call["function"]["arguments"])["city"], str)
    label = json.loads(bodies["schema"]["choices"][0]["message"]["content"])
    assert set(label) == {"label", "confidence"} and label["label"] in ("spam", "ham")
    assert bodies["responses"]["object"] == "response" and bodies["responses"]["output"][0]["type"] == "message"
    [item] = bodies["responses-tool"]["output"]
    assert item["type"] == "function_call" and item["name"] == "get_weather"

    routes = {r["custom_id"]: r["route"] for r in server.rows("batch_id = ?", (batch.id,))}
    assert routes == {"tool": "/v1/chat/completions", "schema": "/v1/chat/completions",
                      "responses": "/v1/responses", "responses-tool": "/v1/responses"}
