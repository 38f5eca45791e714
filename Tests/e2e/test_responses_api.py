"""POST /v1/responses, stateless (issue 16, third part), with the official openai client."""
import json

import httpx
import jsonschema
import pydantic
import pytest

from conftest import MODEL_ID

WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"]}}


def test_text_in_text_out(server, client):
    r = client.responses.create(model=MODEL_ID, input="Say hello.", instructions="Be brief.", max_output_tokens=12, temperature=0)
    assert r.id.startswith("resp_") and r.output_text and r.status in ("completed", "incomplete")
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.usage.model_extra["cost_usd"] > 0
    [row] = server.rows("request_id = ?", (r.id.removeprefix("resp_"),))
    assert row["route"] == "/v1/responses" and row["completion_tokens"] == r.usage.output_tokens


def test_parse_with_a_pydantic_model(client):
    class Report(pydantic.BaseModel):
        title: str = pydantic.Field(max_length=60)
        severity: int

    r = client.responses.parse(model=MODEL_ID, input="Report: the app crashes on save.", text_format=Report, max_output_tokens=120,
                               temperature=0)
    assert isinstance(r.output_parsed, Report)


def test_function_tools_and_the_round_trip(client):
    r = client.responses.create(model=MODEL_ID, input="Weather in Oslo?", tools=[WEATHER], tool_choice="required",
                                max_output_tokens=80, temperature=0)
    [call] = [item for item in r.output if item.type == "function_call"]
    assert call.name == "get_weather"
    jsonschema.validate(json.loads(call.arguments), WEATHER["parameters"])
    follow = client.responses.create(model=MODEL_ID, tools=[WEATHER], max_output_tokens=20, temperature=0, input=[
        {"role": "user", "content": "Weather in Oslo?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "clear"}'}])
    assert follow.status in ("completed", "incomplete")


def test_streaming_events(client):
    events = list(client.responses.create(model=MODEL_ID, input="Count to three.", max_output_tokens=16, temperature=0, stream=True))
    types = [e.type for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text and events[-1].response.output_text == text
    assert [e.sequence_number for e in events] == list(range(1, len(events) + 1))


@pytest.mark.parametrize("extra,param", [({"previous_response_id": "resp_x"}, "previous_response_id"), ({"store": True}, "store")])
def test_state_is_a_clear_400(server, extra, param):
    r = httpx.post(server.base + "/v1/responses", json={"model": MODEL_ID, "input": "hi", **extra}, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text
