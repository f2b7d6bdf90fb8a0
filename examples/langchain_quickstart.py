"""LangChain quickstart: ChatHFProviders on Hugging Face Inference Providers.

    export HF_TOKEN=hf_...   # https://huggingface.co/settings/tokens
                             # (fine-grained, "Make calls to Inference Providers")
    python examples/langchain_quickstart.py [MODEL]

Offline, against the fake router (`hfproviders fake-router --port 8080` in another terminal):

    python examples/langchain_quickstart.py --base-url http://127.0.0.1:8080/v1 --api-key test

Shows invoke (with who served it and the token usage), streaming, structured output with a
Pydantic class, and a tool-calling agent. MODEL defaults to a Llama served by several providers;
append `:cheapest`, `:fastest` or a provider name (`:groq`) to choose how it is routed.
`--base-url` is any server speaking the router's protocol (a gateway, the fake router); its key
is `--api-key` or HFPROVIDERS_API_KEY.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from langchain.agents import create_agent
from langchain_core.exceptions import ModelAuthenticationError
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from langchain_hfproviders import ChatHFProviders

DEFAULT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny and 22 degrees in {city}."  # stands in for a real weather API


class Movie(BaseModel):
    """A movie recommendation."""

    title: str = Field(description="The title of the movie")
    year: int = Field(description="The year it was released")


def main(model_id: str = DEFAULT_MODEL, **options: Any) -> None:
    """Run the four steps against `model_id` (`options` go to ChatHFProviders)."""
    model = ChatHFProviders(model=model_id, temperature=0, **options)

    print("1. invoke")
    answer = model.invoke("In one sentence, what is Hugging Face?")
    served = answer.response_metadata
    print(f"   {answer.text}")
    print(f"   served by {served.get('inference_provider')}, usage {answer.usage_metadata}")

    print("2. stream")
    print("   ", end="")
    for chunk in model.stream("Count from 1 to 5, separated by spaces."):
        print(chunk.text, end="", flush=True)
    print()

    print("3. structured output")
    movie = model.with_structured_output(Movie).invoke("Recommend one classic sci-fi movie.")
    print(f"   {movie!r}")

    print("4. agent with a tool")
    agent = create_agent(model, [get_weather])
    result = agent.invoke({"messages": [("user", "What's the weather in Paris?")]})
    print(f"   {result['messages'][-1].text}")


def options(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """The model and the ChatHFProviders options from the command line."""
    parser = argparse.ArgumentParser(description="ChatHFProviders in four steps.")
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
    try:
        main(model_id, **chosen)
    except ModelAuthenticationError as error:  # no token, or one without the permission
        sys.exit(f"Authentication failed: {error}")
