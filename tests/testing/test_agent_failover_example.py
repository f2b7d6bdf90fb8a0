"""The LangChain agent failover test of docs/testing.md, as a user would write it.

The code between the markers is the documentation's example, verbatim
(`test_the_docs_show_this_test` keeps the two equal).
"""

# --- docs/testing.md example: begin
from langchain.agents import create_agent
from langchain_core.tools import tool

from hfproviders.testing import FakeRouter, Fault
from langchain_hfproviders import ChatHFProviders


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny and 22 degrees in {city}."


def test_agent_fails_over_when_groq_is_down(hf_fake_router: FakeRouter) -> None:
    hf_fake_router.on(provider="groq").respond(Fault.status(503))  # groq is down

    model = ChatHFProviders(
        model="meta-llama/Llama-3.3-70B-Instruct",
        provider=["groq", "together"],  # fail over to together
        base_url=hf_fake_router.base_url,
        router=True,  # the fake router speaks the router's protocol
        api_key="test",
        max_retries=0,
    )
    agent = create_agent(model, [get_weather])
    result = agent.invoke({"messages": [("user", "What's the weather in Paris?")]})

    answer = result["messages"][-1]
    assert "sunny and 22 degrees in Paris" in answer.text
    assert answer.response_metadata["inference_provider"] == "together"
    assert answer.response_metadata["failed_providers"] == ["groq: ServiceUnavailableError"]

    # Both turns of the agent tried groq first, then went to together with the tool.
    asked = [(r.provider, r.status) for r in hf_fake_router.requests]
    assert asked == [("groq", 503), ("together", 200)] * 2
    first_turn = hf_fake_router.requests[1].json
    assert first_turn["tools"][0]["function"]["name"] == "get_weather"


# --- docs/testing.md example: end


def test_the_docs_show_this_test() -> None:
    from pathlib import Path

    here = Path(__file__).read_text()
    example = here.split("# --- docs/testing.md example: begin\n")[1].split("# --- docs")[0]
    docs = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text()
    assert f"```python\n{example.strip()}\n```" in docs
