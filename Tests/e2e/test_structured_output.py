"""Structured output (issue 16): response_format json_object and json_schema. Every
constrained response parses (json_object) and validates against its schema (the
`jsonschema` package, an independent validator), streamed and not."""
import json

import httpx
import jsonschema
import pydantic
import pytest

from conftest import MODEL_ID

ASK = [{"role": "user", "content": "Describe a cat as a JSON object with its name, age and colours."}]

STR = {"type": "string", "maxLength": 40}
SCHEMAS = [
    {"type": "object", "properties": {"category": {"enum": ["bug", "feature", "question"]}}, "required": ["category"]},
    {"type": "object", "properties": {"user": {"type": "object", "properties": {"name": STR, "age": {"type": "integer"}},
                                               "required": ["name", "age"]}}, "required": ["user"]},
    {"type": "object", "properties": {"tags": {"type": "array", "items": STR, "minItems": 1, "maxItems": 3}}, "required": ["tags"]},
    {"type": "object", "properties": {"note": {"type": ["string", "null"], "maxLength": 40}}, "required": ["note"]},
    {"type": "object", "properties": {"count": {"type": "integer"}, "ok": {"type": "boolean"}}, "required": ["count", "ok"]},
    {"type": "object", "properties": {"id": {"anyOf": [STR, {"type": "integer"}]}}, "required": ["id"]},
    {"type": "object", "properties": {"a": {"$ref": "#/$defs/point"}, "b": {"$ref": "#/$defs/point"}}, "required": ["a", "b"],
     "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}, "required": ["x", "y"]}}},
    {"type": "object", "properties": {"version": {"const": 2}, "name": STR}, "required": ["version", "name"]},
    {"type": "object", "properties": {"items": {"type": "array", "maxItems": 2, "items": {
        "type": "object", "properties": {"sku": STR, "qty": {"type": "integer"}}, "required": ["sku", "qty"]}}}, "required": ["items"]},
    {"type": "object", "properties": {"title": STR, "subtitle": STR, "year": {"type": "integer"}}, "required": ["title"]},
    {"type": "object", "properties": {"confidence": {"type": "number"}}, "required": ["confidence"]},
    {"type": "object", "properties": {"owner": {"type": "string", "nullable": True, "maxLength": 40}}, "required": ["owner"]},
    {"type": "object", "properties": {"level": {"enum": [1, 2, 3, "high", None]}}, "required": ["level"]},
    {"type": "object", "properties": {"shape": {"oneOf": [
        {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}}, "required": ["kind", "r"]},
        {"type": "object", "properties": {"kind": {"const": "square"}, "side": {"type": "number"}}, "required": ["kind", "side"]}]}},
     "required": ["shape"]},
    {"type": "object", "properties": {"grid": {"type": "array", "maxItems": 2, "items": {"type": "array", "maxItems": 2,
                                                                                           "items": {"type": "integer"}}}},
     "required": ["grid"]},
    {"type": "object", "additionalProperties": False, "properties": {"a": STR, "b": {"type": "integer"}, "c": {"type": "boolean"},
                                                                      "d": {"type": "null"}}, "required": ["a", "b", "c", "d"]},
    {"type": "object", "properties": {}, "additionalProperties": False},
    {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3},
    {"type": "object", "properties": {"tree": {"$ref": "#/$defs/node"}}, "required": ["tree"],
     "$defs": {"node": {"type": "object", "properties": {"label": STR, "children": {"type": "array", "maxItems": 2,
                                                                                          "items": {"$ref": "#/$defs/node"}}},
                        "required": ["label"]}}},
    {"title": "Ticket", "description": "A support ticket", "type": "object",
     "properties": {"summary": {"title": "Summary", "type": "string", "maxLength": 60},
                    "severity": {"title": "Severity", "enum": ["low", "medium", "high"], "description": "how bad"}},
     "required": ["summary", "severity"]},
]


def ask(server, schema, stream):
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "Answer with JSON about a bug report: the app crashes on save."}],
            "max_tokens": 300, "temperature": 0, "stream": stream,
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}}
    if not stream:
        r = httpx.post(server.base + "/v1/chat/completions", json=body, timeout=120)
        assert r.status_code == 200, r.text
        choice = r.json()["choices"][0]
        return choice["message"]["content"], choice["finish_reason"]
    text, reason = "", None
    with httpx.stream("POST", server.base + "/v1/chat/completions", json=body, timeout=120) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                for c in json.loads(line[6:])["choices"]:
                    text += c["delta"].get("content") or ""
                    reason = c.get("finish_reason") or reason
    return text, reason


@pytest.mark.parametrize("index", range(len(SCHEMAS)))
def test_every_schema_is_followed(server, index):
    schema = SCHEMAS[index]
    for stream in (False, True):
        text, reason = ask(server, schema, stream)
        assert reason == "stop", f"ran out of tokens: {text!r}"
        jsonschema.validate(json.loads(text), schema)


def test_json_object_mode_gives_json(client):
    finished = 0
    for seed in range(4):
        r = client.chat.completions.create(model=MODEL_ID, messages=ASK, max_tokens=200, temperature=0.9, seed=seed,
                                           response_format={"type": "json_object"})
        text = r.choices[0].message.content
        assert text.lstrip().startswith("{"), text
        if r.choices[0].finish_reason == "stop":
            finished += 1
            assert isinstance(json.loads(text), dict), text
    assert finished >= 2, "most answers end on their own"


def test_the_openai_parse_helper_with_a_pydantic_model(client):
    class Ticket(pydantic.BaseModel):
        summary: str = pydantic.Field(max_length=60)
        severity: int
        urgent: bool

    r = client.chat.completions.parse(model=MODEL_ID, messages=[{"role": "user", "content": "File a ticket: login fails."}],
                                      response_format=Ticket, max_tokens=200, temperature=0)
    ticket = r.choices[0].message.parsed
    assert isinstance(ticket, Ticket) and isinstance(ticket.urgent, bool)


def test_greedy_with_a_schema_is_deterministic(server):
    assert ask(server, SCHEMAS[1], False) == ask(server, SCHEMAS[1], False)


@pytest.mark.parametrize("fmt,param", [
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "pattern": "a+"}}}, "response_format.json_schema.schema"),
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"allOf": [{"type": "string"}]}}}, "response_format.json_schema.schema"),
    ({"type": "json_schema", "json_schema": {"name": "x"}}, "response_format.json_schema.schema"),
    ({"type": "xml"}, "response_format.type")])
def test_unsupported_formats_are_400_naming_them(server, fmt, param):
    r = httpx.post(server.base + "/v1/chat/completions", json={"model": MODEL_ID, "messages": ASK, "response_format": fmt}, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text
    if "schema" in fmt.get("json_schema", {}):
        keyword = "pattern" if "pattern" in json.dumps(fmt) else "allOf"
        assert keyword in r.json()["error"]["message"]


def test_completions_and_batch_lines_follow_schemas_too(server, tmp_path):
    import subprocess
    from conftest import ROOT, WAFER
    schema = SCHEMAS[4]
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    r = httpx.post(server.base + "/v1/completions", json={"model": MODEL_ID, "prompt": "A JSON record:", "max_tokens": 80,
                                                           "temperature": 0, "response_format": fmt}, timeout=60)
    assert r.status_code == 200 and r.json()["choices"][0]["finish_reason"] == "stop", r.text
    jsonschema.validate(json.loads(r.json()["choices"][0]["text"]), schema)
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(json.dumps({"custom_id": "s", "method": "POST", "url": "/v1/chat/completions", "body": {
        "model": MODEL_ID, "messages": [{"role": "user", "content": "Count the bugs."}], "max_tokens": 80, "temperature": 0,
        "response_format": fmt}}) + "\n")
    run = subprocess.run([str(WAFER), "batch", str(inp), "-o", str(out), "--ledger", str(tmp_path / "l.db")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    body = json.loads(out.read_text())["response"]["body"]
    jsonschema.validate(json.loads(body["choices"][0]["message"]["content"]), schema)
