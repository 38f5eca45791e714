"""The official openai client against `wafer serve`, unchanged but for base_url and api_key."""
import subprocess

import httpx
import openai
import pytest

from conftest import MODEL_ID, ROOT, WAFER


def chat(client, content, **kw):
    kw.setdefault("max_tokens", 24)
    kw.setdefault("temperature", 0)
    return client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": content}], **kw)


def test_models(client):
    assert [m.id for m in client.models.list()] == [MODEL_ID]
    model = client.models.retrieve(MODEL_ID)
    assert model.id == MODEL_ID and model.object == "model"
    assert model.model_extra["context_length"] == 8192
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_greedy_chat_equals_wafer_generate(client):
    cli = subprocess.run([str(WAFER), "generate", "--chat", "What is 2+2?", "--max-tokens", "24"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    r = chat(client, "What is 2+2?")
    assert r.choices[0].message.content == cli.rstrip("\n")
    assert r.choices[0].message.role == "assistant"
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.model_extra["time_info"]["total_time"] > 0


def test_chat_content_parts(client):
    parts = [{"type": "text", "text": "What is "}, {"type": "text", "text": "2+2?"}]
    r = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": parts}], max_tokens=24, temperature=0)
    assert r.choices[0].message.content == chat(client, "What is 2+2?").choices[0].message.content


def test_completion_prompts(client):
    r = client.completions.create(model=MODEL_ID, prompt="Once upon a time", max_tokens=8, temperature=0)
    text = r.choices[0].text
    assert r.object == "text_completion" and len(text) > 0 and r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 8
    echoed = client.completions.create(model=MODEL_ID, prompt="Once upon a time", max_tokens=8, temperature=0, echo=True)
    assert echoed.choices[0].text == "Once upon a time" + text
    ids = client.completions.create(model=MODEL_ID, prompt=[7454, 2402, 253, 655], max_tokens=4, temperature=0)
    assert ids.usage.prompt_tokens == 4
    batch = client.completions.create(model=MODEL_ID, prompt=["Once upon a time", "The sky is"], n=2, max_tokens=4, temperature=0)
    assert sorted(c.index for c in batch.choices) == [0, 1, 2, 3]
    by_index = {c.index: c.text for c in batch.choices}
    assert by_index[0] == by_index[1] == text[:len(by_index[0])]  # greedy: both choices of prompt 0 agree


def test_streaming_chat_with_usage(client):
    full = chat(client, "Write a haiku about rain.", max_tokens=30)
    chunks = list(chat(client, "Write a haiku about rain.", max_tokens=30, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    finishing = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishing == [full.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == full.usage.completion_tokens
    assert all(c.id == chunks[0].id for c in chunks)


def test_streaming_completion(client):
    full = client.completions.create(model=MODEL_ID, prompt="The sky is", max_tokens=12, temperature=0)
    chunks = list(client.completions.create(model=MODEL_ID, prompt="The sky is", max_tokens=12, temperature=0, stream=True))
    assert "".join(c.choices[0].text for c in chunks) == full.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_raw_sse_ends_with_done(server):
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": True}
    with httpx.stream("POST", server.base + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert len(r.headers["x-request-id"]) == 24
        events = [line for line in r.iter_lines() if line]
    assert events[-1] == "data: [DONE]" and all(e.startswith("data: ") for e in events)


def test_n_choices_and_seed(client):
    r = chat(client, "Name an animal.", n=2, temperature=1.0, seed=11, max_tokens=12)
    assert [c.index for c in r.choices] == [0, 1]
    again = chat(client, "Name an animal.", n=2, temperature=1.0, seed=11, max_tokens=12)
    assert [c.message.content for c in again.choices] == [c.message.content for c in r.choices]
    single = chat(client, "Name an animal.", temperature=1.0, seed=11, max_tokens=12)
    assert single.choices[0].message.content == r.choices[0].message.content, "choice 0 follows the seed"


def test_stop_strings(client):
    text = chat(client, "Tell me a long story about a lighthouse keeper.", max_tokens=40).choices[0].message.content
    stop = text[20:24]
    r = chat(client, "Tell me a long story about a lighthouse keeper.", max_tokens=40, stop=["NEVER", stop])
    assert r.choices[0].message.content == text[:text.index(stop)]
    assert r.choices[0].finish_reason == "stop"


def test_logprobs(client):
    r = chat(client, "What is 2+2?", logprobs=True, top_logprobs=3, max_tokens=6)
    content = r.choices[0].logprobs.content
    assert len(content) == 6 and "".join(t.token for t in content) == r.choices[0].message.content
    for t in content:
        assert t.logprob <= 0 and len(t.top_logprobs) == 3
        assert t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob >= t.top_logprobs[2].logprob
        assert bytes(t.bytes).decode("utf-8", "replace") == t.token
    c = client.completions.create(model=MODEL_ID, prompt="The sky is", max_tokens=4, temperature=0, logprobs=2)
    assert len(c.choices[0].logprobs.tokens) == 4 and all(len(d) == 2 for d in c.choices[0].logprobs.top_logprobs)
