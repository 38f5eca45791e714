"""response_format json_object (issue 16, first part): the output is one JSON object."""
import json

import httpx
import openai
import pytest

from conftest import MODEL_ID

ASK = [{"role": "user", "content": "Describe a cat as a JSON object with its name, age and colours."}]


def test_json_object_mode_gives_json(client):
    finished = 0
    for seed in range(6):
        r = client.chat.completions.create(model=MODEL_ID, messages=ASK, max_tokens=160, temperature=0.9, seed=seed,
                                           response_format={"type": "json_object"})
        text = r.choices[0].message.content
        if r.choices[0].finish_reason == "stop":
            finished += 1
            assert isinstance(json.loads(text), dict), text
        else:
            assert text.lstrip().startswith("{")
    assert finished >= 3, "most answers end on their own"


def test_json_object_mode_streams(client):
    stream = client.chat.completions.create(model=MODEL_ID, messages=ASK, max_tokens=160, temperature=0, stream=True,
                                            response_format={"type": "json_object"})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    if chunks[-1].choices[0].finish_reason == "stop":
        assert isinstance(json.loads(text), dict), text


@pytest.mark.parametrize("fmt,code", [({"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}, "unsupported_value"),
                                      ({"type": "xml"}, None)])
def test_unsupported_formats_are_400(server, fmt, code):
    r = httpx.post(server.base + "/v1/chat/completions", json={"model": MODEL_ID, "messages": ASK, "response_format": fmt}, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["param"].startswith("response_format"), r.text
    if code:
        assert r.json()["error"]["code"] == code
