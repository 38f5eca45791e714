"""Seed corpora for scripts/fuzz, made from the test fixtures: the GGUF fixture
files, the chat templates, the tokenizer cases, the structured-output schemas of
the end-to-end tests, and request bodies of every shape the server takes.

    fuzz_seeds.py TARGET DIR      (run with the e2e venv's python: it imports the e2e tests)
"""
import json
import pathlib
import struct
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tests/e2e"))

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]


def schemas():
    from test_structured_output import SCHEMAS
    return SCHEMAS


def chat_bodies():
    user = {"role": "user", "content": "hi"}
    yield {"model": "m", "messages": [user], "max_tokens": 8, "stream": True, "stream_options": {"include_usage": True},
           "stop": ["\n", "END"], "logit_bias": {"1": -1}, "n": 2, "seed": 1, "temperature": 0.7, "top_p": 0.9,
           "logprobs": True, "top_logprobs": 2, "presence_penalty": 0.5, "frequency_penalty": 0.5, "user": "u"}
    yield {"model": "m", "messages": [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    yield {"model": "m", "messages": [user], "tools": TOOLS, "tool_choice": "auto"}
    yield {"model": "m", "messages": [user], "tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}
    yield {"model": "m", "messages": [user, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny"}], "tools": TOOLS}
    yield {"model": "m", "messages": [user], "response_format": {"type": "json_object"}}
    for schema in schemas():
        yield {"model": "m", "messages": [user], "response_format": {"type": "json_schema",
                                                                    "json_schema": {"name": "x", "schema": schema, "strict": True}}}


def completion_bodies():
    yield {"model": "m", "prompt": "Once upon a time", "max_tokens": 4, "echo": True, "logprobs": 2, "stop": "."}
    yield {"model": "m", "prompt": ["a", "b"], "n": 2, "stream": True, "suffix": None}
    yield {"model": "m", "prompt": [1, 2, 3], "max_tokens": 1, "seed": 7}
    yield {"model": "m", "prompt": [[1, 2], [3]], "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schemas()[0]}}}


def responses_bodies():
    yield {"model": "m", "input": "hi", "instructions": "Be brief.", "max_output_tokens": 16}
    yield {"model": "m", "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
           "stream": True, "text": {"format": {"type": "json_schema", "name": "x", "schema": schemas()[1]}}}
    yield {"model": "m", "input": [{"type": "message", "role": "user", "content": "hi"},
                                   {"type": "function_call", "call_id": "c", "name": "get_weather", "arguments": "{}"},
                                   {"type": "function_call_output", "call_id": "c", "output": "sunny"}],
           "tools": [{"type": "function", "name": "get_weather", "parameters": TOOLS[0]["function"]["parameters"]}]}


def batch_lines():
    urls = [("/v1/chat/completions", chat_bodies), ("/v1/completions", completion_bodies), ("/v1/responses", responses_bodies)]
    for url, bodies in urls:
        for i, body in enumerate(bodies()):
            yield {"custom_id": f"{url}-{i}", "method": "POST", "url": url, "body": body}


def multipart_bodies():
    lines = "\n".join(json.dumps(line) for line in list(batch_lines())[:3]).encode()
    for boundary in ["b0und4ry", "----WebKitFormBoundary7MA4YWxkTrZu0gW"]:
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n"
                f"Content-Type: application/jsonl\r\n\r\n").encode() + lines + f"\r\n--{boundary}--\r\n".encode()
        yield f"multipart/form-data; boundary={boundary}\n".encode() + body


def tokenizer_texts():
    for path in sorted((ROOT / "Tests/Fixtures/tokenizer").glob("*.json")):
        for case in json.loads(path.read_text())["cases"]:
            yield case["text"].encode()


def detokenizer_ids():
    for case in json.loads((ROOT / "Tests/Fixtures/tokenizer/smollm2.json").read_text())["cases"]:
        yield bytes([len(case["ids"]) & 1]) + b"".join(struct.pack("<H", i) for i in case["ids"] if i < 65536)


def tool_call_texts():
    call = '{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}'
    yield b"\x03" + f"<tool_call>\n{call}\n</tool_call>".encode()
    yield b"\x01" + f"Let me check. <tool_call>{call}</tool_call><tool_call>{{\"name\": \"noop\", \"arguments\": {{}}}}</tool_call>".encode()
    yield b"\x05" + f"{call} and then some text".encode()
    yield b"\x02" + b"<tool_call>{\"name\": \"nope\", \"arguments\": 1}</tool_call> <tool_ca"


def schema_texts():
    samples = [b'{"category": "bug"}', b'{"user": {"name": "A", "age": 3}}', b'[1, 2]', b'{"a": {"x": 1.5e3, "y": -0}}']
    for i, schema in enumerate(schemas()):
        yield json.dumps(schema).encode() + b"\0" + samples[i % len(samples)]


def seeds(target):
    if target == "gguf":
        return [p.read_bytes() for p in sorted((ROOT / "Tests/Fixtures/gguf").glob("*.gguf"))]
    if target == "jinja":
        return [p.read_bytes() for p in sorted((ROOT / "Tests/Fixtures/templates").glob("*.jinja"))]
    json_seeds = {"chat-request": chat_bodies, "completion-request": completion_bodies, "responses-request": responses_bodies,
                  "batch-line": batch_lines}
    if target in json_seeds:
        return [json.dumps(b).encode() for b in json_seeds[target]()]
    made = {"multipart": multipart_bodies, "tokenizer": tokenizer_texts, "detokenizer": detokenizer_ids,
            "tool-call": tool_call_texts, "json-schema": schema_texts}
    if target in made:
        return list(made[target]())
    sys.exit(f"fuzz_seeds: unknown target '{target}'")


if __name__ == "__main__":
    target, out = sys.argv[1], pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds(target)):
        (out / f"seed-{i:03d}").write_bytes(seed)
