"""HFProviders in LlamaIndex: chat, streaming, structured output and a tool-calling agent.

Run it (it calls Hugging Face Inference Providers, so it needs a token):

    export HF_TOKEN=hf_...          # https://huggingface.co/settings/tokens
    pip install "hfproviders[llamaindex]"
    python examples/llamaindex_quickstart.py [MODEL]

Offline, against the fake router (`hfproviders fake-router --port 8080` in another terminal):

    python examples/llamaindex_quickstart.py --base-url http://127.0.0.1:8080/v1 --api-key test
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from hfproviders import HFProvidersError, MissingTokenError
from llamaindex_hfproviders import HFProviders

DEFAULT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"


class City(BaseModel):
    """A city and the country it is in."""

    name: str
    country: str


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def chat_and_stream(llm: HFProviders) -> None:
    response = llm.chat([ChatMessage(role="user", content="What is the capital of France?")])
    usage = {k: response.additional_kwargs.get(k) for k in ("prompt_tokens", "completion_tokens")}
    print(f"chat: {response.message.content}")
    print(f"      served by {response.additional_kwargs['provider']}, usage {usage}")

    print("stream: ", end="", flush=True)
    for chunk in llm.stream_complete("Write a haiku about the Seine."):
        print(chunk.delta, end="", flush=True)
    print()


def structured(llm: HFProviders) -> None:
    prompt = PromptTemplate("Name the largest city of {country}.")
    city = llm.structured_predict(City, prompt, country="Japan")
    print(f"structured: {city!r}")


async def agent(llm: HFProviders) -> None:
    calculator = FunctionAgent(tools=[multiply, add], llm=llm)
    handler = calculator.run("Use the multiply tool: what is 7 times 6?")
    async for event in handler.stream_events():
        if isinstance(event, ToolCallResult):
            print(f"agent tool: {event.tool_name}({event.tool_kwargs}) = {event.tool_output}")
    print(f"agent: {await handler}")


def main(model: str = DEFAULT_MODEL, **options: Any) -> int:
    # The token comes from HF_TOKEN; for another --base-url, from --api-key or HFPROVIDERS_API_KEY.
    llm = HFProviders(model=model, max_tokens=512, **options)
    try:
        chat_and_stream(llm)
        structured(llm)
        asyncio.run(agent(llm))
    except MissingTokenError as error:
        print(error, file=sys.stderr)
        return 1
    except HFProvidersError as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 2
    return 0


def options(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """The model and the HFProviders options from the command line."""
    parser = argparse.ArgumentParser(description="HFProviders in LlamaIndex.")
    parser.add_argument("model", nargs="?", default=DEFAULT_MODEL)
    parser.add_argument("--base-url", help="a server speaking the router's protocol")
    parser.add_argument("--api-key", help="its key (else HFPROVIDERS_API_KEY; HF_TOKEN for HF)")
    args = parser.parse_args(argv)
    chosen: dict[str, Any] = {}
    if args.base_url:
        chosen.update(base_url=args.base_url, router=True)  # providers and policies work there
    if args.api_key:
        chosen["api_key"] = args.api_key
    return args.model, chosen


if __name__ == "__main__":
    model_id, chosen = options(sys.argv[1:])
    sys.exit(main(model_id, **chosen))
