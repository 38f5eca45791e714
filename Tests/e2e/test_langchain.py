"""langchain-openai unchanged against Wafer (issue 16): with_structured_output's default
method (json_schema) and bind_tools."""
import json
import warnings

import jsonschema
import pydantic

from conftest import MODEL_ID


def llm(server):
    from langchain_openai import ChatOpenAI
    return ChatOpenAI(base_url=server.base + "/v1", api_key="unused", model=MODEL_ID, temperature=0, max_tokens=120)


def test_with_structured_output(server):
    class Ticket(pydantic.BaseModel):
        summary: str = pydantic.Field(max_length=60)
        severity: int

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ticket = llm(server).with_structured_output(Ticket).invoke("File a ticket: login fails.")
    assert isinstance(ticket, Ticket)


def test_bind_tools(server):
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return "sunny"

    message = llm(server).bind_tools([get_weather], tool_choice="required").invoke("Weather in Oslo?")
    [call] = message.tool_calls
    assert call["name"] == "get_weather"
    jsonschema.validate(call["args"], {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
