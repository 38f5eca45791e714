"""Tool calls (issue 16, second part) with the official openai client: `required`
and named choices are constrained by the tool's parameter schema, `auto` is parsed
from the model's text; calls come back in `message.tool_calls`, streamed as deltas,
and the round trip (assistant calls, tool results) is accepted."""
import json

import jsonschema
import pytest

from conftest import MODEL_ID

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40},
                                                    "unit": {"enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"]}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "Current time in a time zone",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string", "maxLength": 40}}, "required": ["zone"]}}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def check(call, tool):
    assert call.type == "function" and call.id.startswith("call_") and call.function.name == tool["function"]["name"]
    jsonschema.validate(json.loads(call.function.arguments), tool["function"]["parameters"])


def test_required_choice_gives_a_valid_call(client):
    r = client.chat.completions.create(model=MODEL_ID, messages=ASK, tools=[WEATHER, TIME], tool_choice="required",
                                       max_tokens=120, temperature=0)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls
    check(call, WEATHER if call.function.name == "get_weather" else TIME)


def test_a_named_choice_calls_that_function(client):
    r = client.chat.completions.create(model=MODEL_ID, messages=ASK, tools=[WEATHER, TIME],
                                       tool_choice={"type": "function", "function": {"name": "get_time"}}, max_tokens=120, temperature=0)
    [call] = r.choices[0].message.tool_calls
    check(call, TIME)


def test_streamed_calls_come_as_deltas(client):
    stream = client.chat.completions.create(model=MODEL_ID, messages=ASK, tools=[WEATHER], tool_choice="required",
                                            max_tokens=120, temperature=0, stream=True)
    deltas, reason = [], None
    for chunk in stream:
        for c in chunk.choices:
            deltas += c.delta.tool_calls or []
            reason = c.finish_reason or reason
    assert reason == "tool_calls" and deltas[0].id and deltas[0].function.name == "get_weather"
    # The arguments come in fragments as they are generated; only the first delta names the call.
    assert len(deltas) > 3 and all(d.id is None and d.function.name is None and d.index == 0 for d in deltas[1:])
    jsonschema.validate(json.loads("".join(d.function.arguments or "" for d in deltas)), WEATHER["function"]["parameters"])


def test_the_round_trip_is_accepted(client):
    first = client.chat.completions.create(model=MODEL_ID, messages=ASK, tools=[WEATHER], tool_choice="required",
                                           max_tokens=120, temperature=0)
    call = first.choices[0].message.tool_calls[0]
    messages = ASK + [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                      {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 18, "sky": "clear"})}]
    second = client.chat.completions.create(model=MODEL_ID, messages=messages, tools=[WEATHER], max_tokens=40, temperature=0)
    assert second.choices[0].finish_reason in ("stop", "length", "tool_calls")


def test_auto_and_none_may_answer_in_text(client):
    for choice in ("auto", "none"):
        r = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "Say hello."}], tools=[WEATHER],
                                           tool_choice=choice, max_tokens=20, temperature=0)
        message = r.choices[0].message
        assert message.content or message.tool_calls
        if choice == "none":
            assert not message.tool_calls


def test_bad_tool_choices_are_400(server):
    import httpx
    for body, param in [({"tool_choice": {"type": "function", "function": {"name": "nope"}}, "tools": [WEATHER]}, "tool_choice"),
                        ({"tool_choice": "required"}, "tool_choice"), ({"tool_choice": "sometimes", "tools": [WEATHER]}, "tool_choice")]:
        r = httpx.post(server.base + "/v1/chat/completions", json={"model": MODEL_ID, "messages": ASK, **body}, timeout=30)
        assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text
