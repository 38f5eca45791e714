"""`wafer batch` on OpenAI Batch API files: every line answered once, bad lines reported, resumable after kill -9."""
import json
import signal
import sqlite3
import subprocess
import time

import httpx

from conftest import MODEL_ID, ROOT, WAFER


def make_input(path, count, bad_every=20, max_tokens=8):
    """`count` lines; of every `bad_every`, three are not requests and two are requests the API refuses."""
    lines, expected = [], {}
    for i in range(count):
        kind = i % bad_every if bad_every else -1
        chat = {"model": MODEL_ID, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": max_tokens > 8,
                "messages": [{"role": "user", "content": f"Say the number {i}."}]}
        if kind == 0:
            lines.append("{not json")
        elif kind == 1:
            lines.append(json.dumps({"method": "POST", "url": "/v1/chat/completions", "body": chat}))
        elif kind == 2:
            lines.append(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/embeddings", "body": chat}))
            expected[f"r{i}"] = "invalid_url"
        elif kind == 3:
            lines.append(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": {**chat, "model": "gpt-4o"}}))
            expected[f"r{i}"] = 404
        elif kind == 4:
            lines.append(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": {**chat, "stream": True}}))
            expected[f"r{i}"] = 400
        else:
            lines.append(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": chat}))
            expected[f"r{i}"] = 200
    path.write_text("\n".join(lines) + "\n")
    return expected


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run_batch(tmp_path, inp, out, **kw):
    return subprocess.run([str(WAFER), "batch", str(inp), "-o", str(out), "--ledger", str(tmp_path / "ledger.db"), "--max-batch", "16"],
                          cwd=ROOT, capture_output=True, text=True, **kw)


def test_batch_file(tmp_path, server):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    expected = make_input(inp, 60)
    r = run_batch(tmp_path, inp, out)
    assert r.returncode == 0, r.stderr
    outputs, errors = read(out), read(tmp_path / "out.jsonl.errors.jsonl")
    assert len(outputs) + len(errors) == 60, "every input line answered exactly once"
    ids = [o["custom_id"] for o in outputs] + [e["custom_id"] for e in errors if e["custom_id"]]
    assert len(ids) == len(set(ids))
    for o in outputs:
        assert o["error"] is None and o["id"].startswith("batch_req_")
        assert o["response"]["status_code"] == expected[o["custom_id"]], o
        assert len(o["response"]["request_id"]) == 24
    assert sorted(e["error"]["code"] for e in errors) == sorted(["invalid_json"] * 3 + ["missing_custom_id"] * 3 + ["invalid_url"] * 3)
    assert all(e["response"] is None and isinstance(e["line"], int) for e in errors)
    # Greedy bodies equal the same requests sent one by one.
    by_id = {o["custom_id"]: o for o in outputs}
    for i in [5, 6, 27, 59]:
        body = json.loads(inp.read_text().splitlines()[i])["body"]
        alone = httpx.post(server.base + "/v1/chat/completions", json=body, timeout=60).json()
        batched = by_id[f"r{i}"]["response"]["body"]
        assert batched["choices"][0]["message"]["content"] == alone["choices"][0]["message"]["content"]
    # Every request that reached the API is metered under the batch's id.
    rows = sqlite3.connect(tmp_path / "ledger.db").execute("SELECT batch_id FROM requests").fetchall()
    assert len(rows) == sum(1 for o in outputs if o["response"]["body"].get("error", {}).get("param") != "stream")
    assert len({row[0] for row in rows}) == 1 and rows[0][0].startswith("batch_")
    assert "ok" in r.stdout and "GPT-4.1" in r.stdout


def test_unreadable_input_or_unwritable_output_fail_before_work(tmp_path):
    r = run_batch(tmp_path, tmp_path / "missing.jsonl", tmp_path / "out.jsonl")
    assert r.returncode == 2 and "cannot read" in r.stderr
    inp = tmp_path / "in.jsonl"
    make_input(inp, 3)
    r = run_batch(tmp_path, inp, tmp_path / "no-such-dir" / "out.jsonl")
    assert r.returncode == 2 and "cannot" in r.stderr


def test_kill_9_then_resume_answers_each_line_once(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    make_input(inp, 80, bad_every=0, max_tokens=32)  # long enough that the kill lands mid-run
    p = subprocess.Popen([str(WAFER), "batch", str(inp), "-o", str(out), "--ledger", str(tmp_path / "ledger.db"), "--max-batch", "16"],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(out.read_text().splitlines() if out.exists() else []) < 30:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    first = len(read_lenient(out))
    assert 30 <= first < 80, "killed about half way"
    r = run_batch(tmp_path, inp, out)
    assert r.returncode == 0, r.stderr
    ids = [o["custom_id"] for o in read(out)]
    assert len(ids) == 80 and len(set(ids)) == 80
    assert f"{first} done by an earlier run" in r.stdout, r.stdout


def read_lenient(path):
    """Lines of a file that may end in a partial line (after kill -9)."""
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out
