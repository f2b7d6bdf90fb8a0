"""Tool calling by hand, FunctionAgent (streaming), AgentWorkflow and ReActAgent, from cassettes."""

import json
from typing import Any

import pytest
from llama_index.core.agent.workflow import (
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ReActAgent,
    ToolCallResult,
)
from llama_index.core.base.llms.types import ToolCallBlock
from llama_index.core.tools import FunctionTool
from llamaindex_support import Recorded, SentRequests

pytestmark = [
    pytest.mark.vcr,
    # llama-index workflows call inspect.getmembers() on pydantic agents (upstream noise).
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
    pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning"),
]


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


TOOLS = [FunctionTool.from_defaults(fn=multiply), FunctionTool.from_defaults(fn=add)]


def cassette(name: str) -> pytest.MarkDecorator:
    return pytest.mark.default_cassette(f"{name}.yaml")


def recorded_calls(recorded: Recorded, index: int) -> list[dict[str, Any]]:
    """Tool calls of a recorded (non-streamed) response, as sent by the server."""
    message = recorded.events(index)[0]["choices"][0]["message"]
    return list(message.get("tool_calls") or [])


# -- by hand


@cassette("tool_call")
def test_chat_with_tools_parses_string_arguments(
    make_llm: Any, sent: SentRequests, recorded: Recorded
) -> None:
    llm = make_llm(capture=True)
    response = llm.chat_with_tools(TOOLS, user_msg="What is 3 times 4?")
    wire_call = recorded_calls(recorded, 0)[0]

    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert [b.tool_call_id for b in blocks] == [wire_call["id"]]
    legacy = response.message.additional_kwargs["tool_calls"]
    assert isinstance(legacy[0]["function"]["arguments"], str)
    (selection,) = llm.get_tool_calls_from_response(response)
    assert selection.tool_id == wire_call["id"]
    assert selection.tool_name == "multiply"
    assert selection.tool_kwargs == json.loads(wire_call["function"]["arguments"])

    body = sent.bodies[0]
    assert body == recorded.request_body()  # the cassette holds what is really sent
    assert [t["function"]["name"] for t in body["tools"]] == ["multiply", "add"]
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is False


@cassette("tool_call")
async def test_apredict_and_call_runs_the_tool(make_llm: Any) -> None:
    output = await make_llm().apredict_and_call(TOOLS, user_msg="What is 3 times 4?")
    assert output.response == "12"
    assert output.sources[0].tool_name == "multiply"


@cassette("tool_call")
@pytest.mark.vcr(allow_playback_repeats=True)
def test_tool_choice_on_the_wire(make_llm: Any, sent: SentRequests) -> None:
    llm = make_llm(capture=True)
    llm.chat_with_tools(TOOLS, user_msg="3 times 4?", tool_required=True)
    llm.chat_with_tools(TOOLS, user_msg="3 times 4?", tool_choice="multiply")
    llm.chat_with_tools(TOOLS, user_msg="3 times 4?", allow_parallel_tool_calls=True)
    llm.chat_with_tools([], user_msg="3 times 4?", tool_required=True)
    required, named, parallel, no_tools = sent.bodies
    assert required["tool_choice"] == "required"
    assert named["tool_choice"] == {"type": "function", "function": {"name": "multiply"}}
    assert "parallel_tool_calls" not in parallel
    # Never a tool_choice (or parallel_tool_calls) without tools.
    assert "tools" not in no_tools
    assert "tool_choice" not in no_tools
    assert "parallel_tool_calls" not in no_tools


def test_chat_history_is_not_mutated() -> None:
    from llama_index.core.base.llms.types import ChatMessage

    from llamaindex_hfproviders import HFProviders

    history = [ChatMessage(role="user", content="hi")]
    prepared = HFProviders(model="m/m")._prepare_chat_with_tools(
        TOOLS, user_msg="3 times 4?", chat_history=history
    )
    assert len(history) == 1
    assert [m.content for m in prepared["messages"]] == ["hi", "3 times 4?"]


# -- agents


async def run_agent(agent: Any, question: str) -> tuple[Any, list[Any]]:
    handler = agent.run(question)
    events = [event async for event in handler.stream_events()]
    return await handler, events


def assert_history_round_trips(bodies: list[dict[str, Any]], recorded: Recorded) -> None:
    """Each follow-up turn echoes the previous turn's call ids, with string arguments."""
    for turn in range(1, len(bodies)):
        streamed_ids = [
            call["id"]
            for event in recorded.events(turn - 1)
            for choice in event.get("choices") or []
            for call in (choice.get("delta") or {}).get("tool_calls") or []
            if call.get("id")
        ]
        messages = bodies[turn]["messages"]
        assistant, tool = messages[-2], messages[-1]
        assert [c["id"] for c in assistant["tool_calls"]] == streamed_ids
        assert all(isinstance(c["function"]["arguments"], str) for c in assistant["tool_calls"])
        assert assistant["content"] == ""
        assert tool["role"] == "tool"
        assert tool["tool_call_id"] == streamed_ids[0]


@cassette("function_agent")
async def test_function_agent_streams_a_multi_step_run(
    make_llm: Any, sent: SentRequests, recorded: Recorded
) -> None:
    agent = FunctionAgent(tools=TOOLS, llm=make_llm(capture=True))
    assert agent.streaming is True
    result, events = await run_agent(agent, "What is (3 * 4) + 5? Use the tools.")

    results = [e for e in events if isinstance(e, ToolCallResult)]
    assert [(r.tool_name, str(r.tool_output)) for r in results] == [
        ("multiply", "12"),
        ("add", "17"),
    ]
    final_text = recorded.text(len(sent.requests) - 1)
    assert str(result) == final_text
    assert "17" in final_text
    streams = [e for e in events if isinstance(e, AgentStream)]
    assert "".join(e.delta for e in streams) == final_text
    # Tool calls show up while their arguments are still streaming (partial JSON parsed).
    assert any(e.tool_calls and e.tool_calls[0].tool_kwargs == {"a": 3} for e in streams)
    assert_history_round_trips(sent.bodies, recorded)
    assert recorded.all_played
    assert sent.bodies == [recorded.request_body(i) for i in range(len(sent.bodies))]


@cassette("function_agent")
async def test_agent_workflow_picks_function_agent_and_runs(make_llm: Any) -> None:
    workflow = AgentWorkflow.from_tools_or_functions(TOOLS, llm=make_llm())
    assert all(isinstance(agent, FunctionAgent) for agent in workflow.agents.values())
    result, _ = await run_agent(workflow, "What is (3 * 4) + 5? Use the tools.")
    assert "17" in str(result)


@cassette("react_agent")
async def test_react_agent_completes_two_turns_on_one_client(
    make_llm: Any, recorded: Recorded
) -> None:
    llm = make_llm()
    agent = ReActAgent(tools=TOOLS, llm=llm)
    result, events = await run_agent(agent, "What is 3 times 4?")
    results = [e for e in events if isinstance(e, ToolCallResult)]
    assert [(r.tool_name, r.tool_kwargs, str(r.tool_output)) for r in results] == [
        ("multiply", {"a": 3, "b": 4}, "12")
    ]
    assert "12" in str(result)
    assert recorded.all_played
    assert llm._pools._async is not None  # the shared async client survived both turns
