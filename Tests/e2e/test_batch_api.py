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
