"""Over HTTP, with the official SDKs: a wrong-typed field in a translated request is the client's 400.

Each of these crashed in translation before (a 500, and before the request edge caught it a
ledger row that said 200). Now the client gets its own API's 400, the message names the field,
and the ledger row says 400 with the same message.
"""

from __future__ import annotations

import anthropic
import openai
import pytest

USER = [{"role": "user", "content": "hi"}]


def _row(gateway, error: openai.APIStatusError | anthropic.APIStatusError):
    return gateway.record(error.response.headers["x-costops-request-id"])


def test_openai_client_on_claude_content_of_the_wrong_type(openai_client, gateway) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.chat.completions.create(
            model="claude-haiku-4-5", messages=[*USER, {"role": "assistant", "content": "ok"}, {"role": "user", "content": 5}]
        )
    error = info.value
    assert error.status_code == 400
    message = "messages[2].content must be a string or a list of content parts, not a number 5"
    assert error.body == {"message": message, "type": "invalid_request_error", "param": None, "code": "invalid_type"}
    row = _row(gateway, error)
    assert row.status == 400 and row.error_message == message and row.provider == "anthropic"


def test_openai_client_on_gemini_tools_not_a_list(openai_client, gateway) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.chat.completions.create(
            model="gemini-2.5-flash", messages=USER, extra_body={"tools": {"type": "function", "function": {"name": "f"}}}
        )
    assert info.value.body["message"] == "tools must be a list of objects, not an object"
    assert _row(gateway, info.value).status == 400


def test_anthropic_client_on_gpt_system_and_tool_choice_of_the_wrong_type(anthropic_client, gateway) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        anthropic_client.messages.create(model="gpt-4o-mini", max_tokens=50, messages=USER, extra_body={"system": ["Be brief."]})
    error = info.value
    assert error.status_code == 400 and error.body["type"] == "error"
    assert error.body["error"] == {"type": "invalid_request_error", "message": "system[0] must be an object, not a string 'Be brief.'"}
    with pytest.raises(anthropic.BadRequestError) as info:
        anthropic_client.messages.create(
            model="gpt-4o-mini", max_tokens=50, messages=USER,
            tools=[{"name": "f", "input_schema": {"type": "object"}}], extra_body={"tool_choice": "auto"},
        )
    assert info.value.body["error"]["message"].startswith("tool_choice must be an object such as")
    rows = [_row(gateway, error), _row(gateway, info.value)]
    assert [r.status for r in rows] == [400, 400] and all(r.provider == "openai" for r in rows)
