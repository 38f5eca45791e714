"""Files and batches under --api-keys: they belong to the key that made them, and a
batch's lines run and are billed as that key (issue 20)."""
import json
import signal
import sqlite3
import time
from pathlib import Path

import openai
import pytest

from conftest import Server
from test_batch import make_input
from test_batch_api import wait_for_status

KEYS = {"keys": [{"key": "sk-owner-alice-0001", "name": "alice"},
                 {"key": "sk-other-bob-00001", "name": "bob", "tier": "reserved"},
                 {"key": "sk-admin-carol-001", "name": "carol", "admin": True}]}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys") / "keys.json"
    keys.write_text(json.dumps(KEYS))
    s = Server("--api-keys", str(keys))
    yield s
    assert s.stop() == 0, "".join(s.log)


def test_batch_lines_run_and_bill_as_the_owner(keyed, tmp_path):
    alice = keyed.client("sk-owner-alice-0001")
    inp = tmp_path / "in.jsonl"
    expected = make_input(inp, 20)
    f = alice.files.create(file=("in.jsonl", inp.read_bytes()), purpose="batch")
    batch = alice.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    done = wait_for_status(alice, batch.id, {"completed", "failed"})
    assert done.status == "completed"
    outputs = [json.loads(line) for line in alice.files.content(done.output_file_id).text.splitlines()]
    for o in outputs:
        assert o["response"]["status_code"] == expected[o["custom_id"]], o
    ok = sum(1 for v in expected.values() if v == 200)
    assert ok > 0 and done.request_counts.completed >= ok
    rows = keyed.rows("batch_id = ? AND status = 200", (batch.id,))
    assert len(rows) == ok and {r["key_name"] for r in rows} == {"alice"}
    assert all(r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 for r in rows)


def test_files_and_batches_are_the_owners(keyed, tmp_path):
    alice, bob = keyed.client("sk-owner-alice-0001"), keyed.client("sk-other-bob-00001")
    admin = keyed.client("sk-admin-carol-001")
    inp = tmp_path / "in.jsonl"
    make_input(inp, 4, bad_every=0)
    f = alice.files.create(file=("in.jsonl", inp.read_bytes()), purpose="batch")
    batch = alice.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    done = wait_for_status(alice, batch.id, {"completed", "failed"})

    for file_id in (f.id, done.output_file_id):
        assert alice.files.retrieve(file_id).id == file_id
        assert admin.files.retrieve(file_id).id == file_id
        with pytest.raises(openai.NotFoundError):
            bob.files.retrieve(file_id)
        with pytest.raises(openai.NotFoundError):
            bob.files.content(file_id)
        with pytest.raises(openai.NotFoundError):
            bob.files.delete(file_id)
    assert f.id not in [x.id for x in bob.files.list()]
    assert f.id in [x.id for x in admin.files.list()]
    with pytest.raises(openai.NotFoundError):
        bob.batches.retrieve(batch.id)
    with pytest.raises(openai.NotFoundError):
        bob.batches.cancel(batch.id)
    assert batch.id not in [b.id for b in bob.batches.list()]
    assert batch.id in [b.id for b in admin.batches.list()]
    with pytest.raises(openai.NotFoundError):  # bob cannot start a batch on alice's file either
        bob.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert alice.files.content(f.id).read() == inp.read_bytes(), "bob's attempts changed nothing"


def start_long_batch(tmp_path, *args):
    """A server running a batch whose lines each take seconds (so a stop lands before any is answered)."""
    inp = tmp_path / "in.jsonl"
    make_input(inp, 8, bad_every=0, max_tokens=400)
    s = Server(*args)
    c = s.client()
    f = c.files.create(file=("in.jsonl", inp.read_bytes()), purpose="batch")
    return s, c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")


def test_a_batch_that_keeps_killing_the_server_is_failed(tmp_path):
    """kill -9 while the batch's first lines run, three times in a row: the next start fails it with the reason."""
    s, batch = start_long_batch(tmp_path)
    data_dir = s.data_dir
    for _ in range(3):
        time.sleep(0.3)
        s.stop(signal.SIGKILL)
        state = json.loads((Path(data_dir) / "batches" / f"{batch.id}.json").read_text())
        assert state["batch"]["status"] == "in_progress"
        s = Server(data_dir=data_dir)
    try:
        failed = wait_for_status(s.client(), batch.id, {"failed", "completed"}, timeout=30)
        assert failed.status == "failed"
        assert failed.errors.data[0].code == "resume_failed" and "not resumed" in failed.errors.data[0].message
    finally:
        assert s.stop() == 0


def test_lines_answered_into_the_ledger_elsewhere_count_as_progress(tmp_path):
    """A batch resumed where the answers of lines are in the ledger but not in this server's output file (as when a
    replica adopts a batch from one that died) made progress: three such crashes in a row do not fail it. They did
    ('resume_failed'), when only the local output file counted."""
    inp = tmp_path / "in.jsonl"
    make_input(inp, 200, bad_every=0, max_tokens=64)
    s = Server()
    c = s.client()
    f = c.files.create(file=("in.jsonl", inp.read_bytes()), purpose="batch")
    batch = c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    data_dir = s.data_dir

    def metered():
        with sqlite3.connect(Path(data_dir) / "ledger.db") as db:
            return db.execute("SELECT count(*) FROM requests WHERE batch_id = ? AND status = 200", (batch.id,)).fetchone()[0]
    for _ in range(3):
        before, deadline = metered(), time.time() + 60
        while metered() < before + 3:
            assert time.time() < deadline, "no line was answered"
            time.sleep(0.05)
        s.stop(signal.SIGKILL)
        (Path(data_dir) / "batches" / f"{batch.id}.output.jsonl").unlink()  # the answers live on only in the ledger
        s = Server(data_dir=data_dir)
    try:
        done = wait_for_status(s.client(), batch.id, {"failed", "completed"}, timeout=180)
        assert done.status == "completed", done.errors
        out = s.client().files.content(done.output_file_id).text.splitlines()
        assert sorted(json.loads(line)["custom_id"] for line in out) == sorted(f"r{i}" for i in range(200))
        assert metered() == 200, "every line billed once"
    finally:
        assert s.stop() == 0


def test_a_batch_stopped_cleanly_is_not_counted_as_a_crash(tmp_path):
    s, batch = start_long_batch(tmp_path, "--shutdown-grace", "0")
    data_dir = s.data_dir
    for _ in range(4):
        time.sleep(0.3)
        assert s.stop(signal.SIGTERM) == 0
        s = Server("--shutdown-grace", "0", data_dir=data_dir)
    try:
        assert s.client().batches.retrieve(batch.id).status == "in_progress"
    finally:
        s.stop(signal.SIGKILL)
