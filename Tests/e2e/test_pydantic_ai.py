"""pydantic-ai unchanged against Wafer (issue 16): its default output mode asks
for a `final_result` tool call whose arguments follow the output type's schema,
and it streams text."""
import asyncio

import pydantic

from conftest import MODEL_ID


def agent(server, output_type=str):
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider
    model = OpenAIChatModel(MODEL_ID, provider=OpenAIProvider(base_url=server.base + "/v1", api_key="unused"))
    return Agent(model, output_type=output_type, model_settings={"temperature": 0, "max_tokens": 120})


def test_structured_output_through_the_final_result_tool(server):
    class Ticket(pydantic.BaseModel):
        summary: str = pydantic.Field(max_length=60)
        severity: int

    result = agent(server, Ticket).run_sync("File a ticket: login fails.")
    assert isinstance(result.output, Ticket)
    calls = [p for m in result.all_messages() for p in m.parts if p.part_kind == "tool-call"]
    assert calls and calls[-1].tool_name == "final_result"
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0


def test_streamed_text(server):
    async def run():
        async with agent(server).run_stream("Say hello.") as response:
            return [text async for text in response.stream_text(delta=True)]

    pieces = asyncio.run(run())
    assert len(pieces) >= 1 and "".join(pieces).strip()
