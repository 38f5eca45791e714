"""The ledger when the disk fills and when a batch dies between its ledger row and its
output line (issue 20): no output without a row, recovery when space returns, no line
answered or billed twice."""
import json
import os
import subprocess
import tempfile
import time

import httpx
import pytest

from conftest import MODEL_ID, ROOT, WAFER, Server

CHAT = "/v1/chat/completions"


@pytest.fixture
def small_disk():
    """A 3 MiB tmpfs for the data directory (needs root, as CI and the dev machines run)."""
    path = tempfile.mkdtemp(prefix="wafer-tmpfs-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", path], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root?)")
    yield path
    subprocess.run(["umount", "-l", path])


def fill(directory):
    """Writes zeros until the file system is full; returns the filler's path."""
    filler = os.path.join(directory, "filler")
    for chunk in (65536, 512):
        try:
            with open(filler, "ab") as f:
                while True:
                    f.write(b"\0" * chunk)
                    f.flush()
        except OSError:
            pass
    return filler


def body(stream=False):
    return {"model": MODEL_ID, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8, "stream": stream}


def test_a_full_disk_refuses_work_up_front_and_recovers(small_disk):
    s = Server(data_dir=small_disk)
    try:
        assert httpx.post(s.base + CHAT, json=body(), timeout=60).status_code == 200
        filler = fill(small_disk)

        r = httpx.post(s.base + CHAT, json=body(), timeout=60)
        assert r.status_code == 503 and "ledger" in r.json()["error"]["message"], r.text
        with httpx.stream("POST", s.base + CHAT, json=body(stream=True), timeout=60) as streamed:
            assert streamed.status_code == 503, "refused before any text is sent"
            assert "data:" not in streamed.read().decode()
        health = httpx.get(s.base + "/health", timeout=10)
        assert health.status_code == 503 and "ledger" in health.json()["error"]["message"]
        assert s.metrics()["wafer_ledger_up"] == 0

        os.remove(filler)
        deadline = time.time() + 15
        while time.time() < deadline and httpx.get(s.base + "/health", timeout=10).status_code != 200:
            time.sleep(0.2)
        assert httpx.get(s.base + "/health", timeout=10).status_code == 200, "the ledger recovers without traffic"
        assert s.metrics()["wafer_ledger_up"] == 1
        r = httpx.post(s.base + CHAT, json=body(), timeout=60)
        assert r.status_code == 200
        [row] = s.rows("request_id = ?", (r.headers["x-request-id"],))
        assert row["status"] == 200 and row["completion_tokens"] > 0
        served = s.rows("status = 200")
        assert len(served) == 2, "every answered request has its row, and no other was answered"
    finally:
        assert s.stop() == 0


def test_a_resumed_line_reuses_its_row_and_answer(tmp_path):
    """A kill between a line's ledger commit and its output line, simulated by cutting the
    output's last lines: the next run writes the same answers back without running or billing again."""
    inp, out, ledger = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "ledger.db"
    lines = [{"custom_id": f"q{i}", "method": "POST", "url": CHAT,
              "body": {**body(), "temperature": 1.0, "messages": [{"role": "user", "content": f"Tell me about {i}."}]}}
             for i in range(6)]
    inp.write_text("".join(json.dumps(line) + "\n" for line in lines))
    cmd = [str(WAFER), "batch", str(inp), "-o", str(out), "--ledger", str(ledger)]
    first = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    written = out.read_text().splitlines()
    assert len(written) == 6
    kept, cut = written[:3], written[3:]
    with open(out, "r+") as f:  # same file (same batch), its last three lines lost
        f.truncate(len("\n".join(kept)) + 1)

    def rows():
        import sqlite3
        db = sqlite3.connect(ledger)
        try:
            return db.execute("SELECT request_id, completion_tokens, cost_usd FROM requests ORDER BY request_id").fetchall()
        finally:
            db.close()
    before = rows()
    second = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert sorted(out.read_text().splitlines()) == sorted(written), "the same answers, byte for byte"
    assert rows() == before, "no line ran or was billed again"
