"""instructor unchanged against Wafer (issue 16), in both of its modes that
reach a server: TOOLS (a forced call whose arguments follow the model's schema)
and JSON_SCHEMA (response_format json_schema). Runs in its own venv
(requirements.txt beside this file; scripts/test runs it); the main run skips it."""
import sys
from pathlib import Path

import pydantic
import pytest

instructor = pytest.importorskip("instructor")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import MODEL_ID, Server  # noqa: E402


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    assert s.stop() == 0, "".join(s.log)


class Ticket(pydantic.BaseModel):
    summary: str = pydantic.Field(max_length=60)
    severity: int
    component: str = pydantic.Field(max_length=20)


@pytest.mark.parametrize("mode", [instructor.Mode.TOOLS, instructor.Mode.JSON_SCHEMA])
def test_a_pydantic_model_comes_back(server, mode):
    client = instructor.from_openai(server.client(), mode=mode)
    ticket, completion = client.chat.completions.create_with_completion(
        model=MODEL_ID, response_model=Ticket, max_tokens=150, temperature=0, max_retries=0,
        messages=[{"role": "user", "content": "File a ticket: the login page times out."}])
    assert isinstance(ticket, Ticket)
    choice = completion.choices[0]
    if mode == instructor.Mode.TOOLS:
        assert choice.finish_reason == "tool_calls" and choice.message.tool_calls[0].function.name == "Ticket"
    else:
        assert Ticket.model_validate_json(choice.message.content).model_dump() == ticket.model_dump()


def test_a_bound_the_grammar_cannot_hold_is_a_400_naming_it(server):
    class Bounded(pydantic.BaseModel):
        severity: int = pydantic.Field(ge=1, le=5)

    client = instructor.from_openai(server.client(), mode=instructor.Mode.JSON_SCHEMA)
    with pytest.raises(Exception) as e:
        client.chat.completions.create(model=MODEL_ID, response_model=Bounded, max_tokens=20, max_retries=0,
                                       messages=[{"role": "user", "content": "Rate it."}])
    assert "maximum" in str(e.value) or "minimum" in str(e.value)
