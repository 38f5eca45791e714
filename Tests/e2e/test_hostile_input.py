"""Integers at the edges of Int64 in every integer field the API accepts: each is
refused with a 400 naming the field, or served; never a crash (issue 20)."""
import json
import subprocess

import httpx
import pytest

from conftest import MODEL_ID, ROOT, WAFER, Server
from test_batch_api import wait_for_status

BIG = 2**63 - 1
SMALL = -(2**63)
CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"


def post(server, path, body):
    return httpx.post(server.base + path, json=body, timeout=120)


def chat(**fields):
    return {"model": MODEL_ID, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2, **fields}


def completion(**fields):
    return {"model": MODEL_ID, "prompt": "Once upon a time", "max_tokens": 2, **fields}


# (body, the param a 400 must name, or None when the request is served)
CASES = [
    (chat(max_tokens=BIG), "max_tokens"),
    (chat(max_tokens=SMALL), "max_tokens"),
    (chat(max_tokens=10**9), "max_tokens"),
    ({**chat(), "max_tokens": None, "max_completion_tokens": BIG}, "max_completion_tokens"),
    (chat(n=BIG), "n"),
    (chat(n=SMALL), "n"),
    (chat(seed=BIG), None),
    (chat(seed=SMALL), None),
    (chat(top_k=BIG), None),
    (chat(top_k=SMALL), "top_k"),
    (chat(repeat_last_n=BIG, repeat_penalty=1.1), None),
    (chat(repeat_last_n=SMALL), "repeat_last_n"),
    (chat(logit_bias={str(BIG): 1}), "logit_bias"),
    (chat(logit_bias={str(SMALL): 1}), "logit_bias"),
    (chat(logprobs=True, top_logprobs=BIG), "top_logprobs"),
    (chat(logprobs=True, top_logprobs=SMALL), "top_logprobs"),
    (completion(max_tokens=BIG), "max_tokens"),
    (completion(n=BIG), "n"),
    (completion(logprobs=BIG), "logprobs"),
    (completion(logprobs=SMALL), "logprobs"),
    (completion(seed=BIG), None),
    (completion(prompt=[BIG]), "prompt"),
    (completion(prompt=[[1, SMALL]]), "prompt"),
    (completion(prompt=[2**31 - 1]), "prompt"),
    (completion(prompt=[-1]), "prompt"),
    (completion(logit_bias={"1": BIG}), "logit_bias"),
]


@pytest.mark.parametrize("body,param", CASES, ids=[f"{i}" for i in range(len(CASES))])
def test_int64_edges_are_refused_or_served(server, body, param):
    path = CHAT if "messages" in body else COMPLETIONS
    body = {k: v for k, v in body.items() if v is not None}
    r = post(server, path, body)
    if param is None:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"] == param, r.text
    assert server.process.poll() is None, "".join(server.log)
    assert httpx.get(server.base + "/health", timeout=10).status_code == 200


def test_max_tokens_past_the_prompt_room_is_capped_at_the_context(tmp_path):
    s = Server("--ctx", "64")
    try:
        r = post(s, COMPLETIONS, completion(max_tokens=64, ignore_eos=True))
        assert r.status_code == 200, r.text
        usage = r.json()["usage"]
        assert usage["prompt_tokens"] + usage["completion_tokens"] == 64
        assert r.json()["choices"][0]["finish_reason"] == "length"
        assert post(s, COMPLETIONS, completion(max_tokens=65)).status_code == 400
    finally:
        assert s.stop() == 0


def overflow_lines(path):
    lines = [{"custom_id": "huge", "method": "POST", "url": CHAT, "body": chat(max_tokens=BIG)},
             {"custom_id": "fine", "method": "POST", "url": CHAT, "body": chat()}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_wafer_batch_answers_an_overflowing_line(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    overflow_lines(inp)
    run = subprocess.run([str(WAFER), "batch", str(inp), "-o", str(out), "--ledger", str(tmp_path / "l.db")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    answers = {json.loads(l)["custom_id"]: json.loads(l)["response"] for l in out.read_text().splitlines()}
    assert answers["huge"]["status_code"] == 400 and answers["huge"]["body"]["error"]["param"] == "max_tokens"
    assert answers["fine"]["status_code"] == 200


def test_batch_api_answers_an_overflowing_line(server, tmp_path):
    inp = tmp_path / "in.jsonl"
    overflow_lines(inp)
    c = server.client()
    f = c.files.create(file=("in.jsonl", inp.read_bytes()), purpose="batch")
    batch = c.batches.create(input_file_id=f.id, endpoint=CHAT, completion_window="24h")
    done = wait_for_status(c, batch.id, {"completed", "failed"})
    assert done.status == "completed" and done.request_counts.failed == 1 and done.request_counts.completed == 1
    assert server.process.poll() is None
