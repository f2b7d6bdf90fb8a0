"""The benchmarked clients, one class each, all doing the same four things against the mock.

Runs inside the peers venv (``benchmarks/.peers-venv``), imported by ``worker.py`` only after the
client's import time was measured in a separate process. Each client returns plain values
(``Out`` / ``ToolOut``) so ``worker.py`` can check them against what the mock sent: a client
that drops text, usage or a tool call fails its check instead of looking fast.

Every client gets the same request (model, messages, ``max_tokens``), and its best settings for
this job where it has them (e.g. ``stream_usage=True``), so that no peer is measured crippled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import bench_router as mock

FAKE_TOKEN = "hf_test_FAKE_TOKEN_do_not_use"
MODEL = mock.MODEL
MAX_TOKENS = 256
PROMPT = "What is deep learning?"
TOOL_PROMPT = "What is the weather in Paris?"
MESSAGES = [{"role": "user", "content": PROMPT}]
TOOL_MESSAGES = [{"role": "user", "content": TOOL_PROMPT}]
TOOL_SPEC: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": mock.TOOL_NAME,
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name."},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}

Usage = tuple[int, int, int]
Out = tuple[str, Usage | None]
ToolOut = tuple[str | None, str, dict[str, Any]]  # (id, name, arguments)


def get_weather(city: str, unit: str = "celsius") -> str:
    """Get the current weather in a city."""
    return f"18 degrees {unit} in {city}"


def _args(value: Any) -> dict[str, Any]:
    """Tool-call arguments as a dict, whether the client hands back a string or a dict."""
    if isinstance(value, str):
        parsed = json.loads(value) if value else {}
        return parsed if isinstance(parsed, dict) else {}
    return dict(value) if value else {}


def _usage_obj(u: Any) -> Usage | None:
    if u is None:
        return None
    if isinstance(u, dict):
        return (
            u.get("prompt_tokens", -1),
            u.get("completion_tokens", -1),
            u.get("total_tokens", -1),
        )
    return (u.prompt_tokens, u.completion_tokens, u.total_tokens)


def _lc_usage(meta: Any) -> Usage | None:
    if not meta:
        return None
    return (meta["input_tokens"], meta["output_tokens"], meta["total_tokens"])


class Client:
    """One benchmarked client: sync ``call``/``stream``/``tool_call`` and an async ``astream``."""

    label = ""
    framework = "raw"  # raw | huggingface_hub | openai | langchain | llamaindex
    kind = "peer"  # floor | peer | ours | framework-floor
    uses_http = True

    def setup(self, root: str) -> None:
        raise NotImplementedError

    def call(self) -> Out:
        raise NotImplementedError

    def stream(self) -> Out:
        raise NotImplementedError

    def tool_call(self) -> ToolOut:
        raise NotImplementedError

    async def asetup(self, root: str) -> None:
        raise NotImplementedError

    async def astream(self) -> Out:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None

    def close(self) -> None:
        return None


# --------------------------------------------------------------------------- raw httpx: the floor


class RawHttpx(Client):
    """A bare httpx POST with hand-written SSE line parsing: the floor every ratio is taken to."""

    label = "raw httpx (floor)"
    kind = "floor"

    def setup(self, root: str) -> None:
        import httpx

        self.url = root + "/v1/chat/completions"
        self.headers = {"authorization": f"Bearer {FAKE_TOKEN}"}
        self.client = httpx.Client(headers=self.headers)

    def call(self) -> Out:
        r = self.client.post(
            self.url, json={"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS}
        )
        r.raise_for_status()
        d = r.json()
        return d["choices"][0]["message"]["content"], _usage_obj(d.get("usage"))

    def tool_call(self) -> ToolOut:
        body = {
            "model": MODEL,
            "messages": TOOL_MESSAGES,
            "tools": [TOOL_SPEC],
            "max_tokens": MAX_TOKENS,
        }
        r = self.client.post(self.url, json=body)
        r.raise_for_status()
        tc = r.json()["choices"][0]["message"]["tool_calls"][0]
        return tc["id"], tc["function"]["name"], _args(tc["function"]["arguments"])

    def _stream_body(self) -> dict[str, Any]:
        return {
            "model": MODEL,
            "messages": MESSAGES,
            "max_tokens": MAX_TOKENS,
            "stream": True,
            "stream_options": {"include_usage": True},
        }

    def stream(self) -> Out:
        parts: list[str] = []
        usage = None
        with self.client.stream("POST", self.url, json=self._stream_body()) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].lstrip()
                if data == "[DONE]":
                    break
                obj = json.loads(data)
                choices = obj["choices"]
                if choices:
                    content = choices[0]["delta"].get("content")
                    if content:
                        parts.append(content)
                if obj.get("usage"):
                    usage = _usage_obj(obj["usage"])
        return "".join(parts), usage

    def close(self) -> None:
        self.client.close()

    async def asetup(self, root: str) -> None:
        import httpx

        self.url = root + "/v1/chat/completions"
        self.aclient = httpx.AsyncClient(headers={"authorization": f"Bearer {FAKE_TOKEN}"})

    async def astream(self) -> Out:
        parts: list[str] = []
        usage = None
        async with self.aclient.stream("POST", self.url, json=self._stream_body()) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].lstrip()
                if data == "[DONE]":
                    break
                obj = json.loads(data)
                choices = obj["choices"]
                if choices:
                    content = choices[0]["delta"].get("content")
                    if content:
                        parts.append(content)
                if obj.get("usage"):
                    usage = _usage_obj(obj["usage"])
        return "".join(parts), usage

    async def aclose(self) -> None:
        await self.aclient.aclose()


# --------------------------------------------------------------------------- SDK peers


class HubInferenceClient(Client):
    """huggingface_hub ``InferenceClient(base_url=…)``."""

    label = "huggingface_hub InferenceClient"
    framework = "huggingface_hub"

    def setup(self, root: str) -> None:
        from huggingface_hub import InferenceClient

        self.client: Any = InferenceClient(base_url=root + "/v1", api_key=FAKE_TOKEN)

    def call(self) -> Out:
        out = self.client.chat_completion(MESSAGES, model=MODEL, max_tokens=MAX_TOKENS)
        return out.choices[0].message.content or "", _usage_obj(out.usage)

    def tool_call(self) -> ToolOut:
        out = self.client.chat_completion(
            TOOL_MESSAGES, model=MODEL, tools=[TOOL_SPEC], max_tokens=MAX_TOKENS
        )
        tc = out.choices[0].message.tool_calls[0]
        return tc.id, tc.function.name, _args(tc.function.arguments)

    def stream(self) -> Out:
        parts: list[str] = []
        usage = None
        for chunk in self.client.chat_completion(
            MESSAGES,
            model=MODEL,
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            if chunk.usage:
                usage = _usage_obj(chunk.usage)
        return "".join(parts), usage

    def close(self) -> None:
        self.client.close()

    async def asetup(self, root: str) -> None:
        from huggingface_hub import AsyncInferenceClient

        self.aclient: Any = AsyncInferenceClient(base_url=root + "/v1", api_key=FAKE_TOKEN)

    async def astream(self) -> Out:
        parts: list[str] = []
        usage = None
        async for chunk in await self.aclient.chat_completion(
            MESSAGES,
            model=MODEL,
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            if chunk.usage:
                usage = _usage_obj(chunk.usage)
        return "".join(parts), usage

    async def aclose(self) -> None:
        await self.aclient.close()


class OpenAISDK(Client):
    """The openai SDK with ``base_url`` pointed at the mock."""

    label = "openai SDK"
    framework = "openai"

    def setup(self, root: str) -> None:
        from openai import OpenAI

        self.client: Any = OpenAI(base_url=root + "/v1", api_key=FAKE_TOKEN)

    def call(self) -> Out:
        out = self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS
        )
        return out.choices[0].message.content or "", _usage_obj(out.usage)

    def tool_call(self) -> ToolOut:
        out = self.client.chat.completions.create(
            model=MODEL,
            messages=TOOL_MESSAGES,
            tools=[TOOL_SPEC],
            max_tokens=MAX_TOKENS,
        )
        tc = out.choices[0].message.tool_calls[0]
        return tc.id, tc.function.name, _args(tc.function.arguments)

    def stream(self) -> Out:
        parts: list[str] = []
        usage = None
        for chunk in self.client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            if chunk.usage:
                usage = _usage_obj(chunk.usage)
        return "".join(parts), usage

    def close(self) -> None:
        self.client.close()

    async def asetup(self, root: str) -> None:
        from openai import AsyncOpenAI

        self.aclient: Any = AsyncOpenAI(base_url=root + "/v1", api_key=FAKE_TOKEN)

    async def astream(self) -> Out:
        parts: list[str] = []
        usage = None
        async for chunk in await self.aclient.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            if chunk.usage:
                usage = _usage_obj(chunk.usage)
        return "".join(parts), usage

    async def aclose(self) -> None:
        await self.aclient.close()


class HFCore(Client):
    """Our core: ``hfproviders.HFClient`` / ``AsyncHFClient``."""

    label = "hfproviders (core)"
    framework = "core"
    kind = "ours"

    def setup(self, root: str) -> None:
        from hfproviders import HFClient

        self.client = HFClient(base_url=root + "/v1", api_key=FAKE_TOKEN)

    def call(self) -> Out:
        out = self.client.chat(MODEL, MESSAGES, max_tokens=MAX_TOKENS)
        return out.choices[0].message.content or "", _usage_obj(out.usage)

    def tool_call(self) -> ToolOut:
        out = self.client.chat(MODEL, TOOL_MESSAGES, tools=[TOOL_SPEC], max_tokens=MAX_TOKENS)
        tc = out.choices[0].message.tool_calls[0]
        return tc.id, tc.function.name, _args(tc.function.arguments)

    def stream(self) -> Out:
        parts: list[str] = []
        usage = None
        with self.client.stream(MODEL, MESSAGES, max_tokens=MAX_TOKENS) as chunks:
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
                if chunk.usage:
                    usage = _usage_obj(chunk.usage)
        return "".join(parts), usage

    def close(self) -> None:
        self.client.close()

    async def asetup(self, root: str) -> None:
        from hfproviders import AsyncHFClient

        self.aclient = AsyncHFClient(base_url=root + "/v1", api_key=FAKE_TOKEN)

    async def astream(self) -> Out:
        parts: list[str] = []
        usage = None
        async with self.aclient.stream(MODEL, MESSAGES, max_tokens=MAX_TOKENS) as chunks:
            async for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
                if chunk.usage:
                    usage = _usage_obj(chunk.usage)
        return "".join(parts), usage

    async def aclose(self) -> None:
        await self.aclient.aclose()


# --------------------------------------------------------------------------- LangChain


class LangChainClient(Client):
    """Shared LangChain driving: ``invoke``, ``stream``, ``bind_tools(...).invoke``, ``astream``."""

    framework = "langchain"

    def _make(self, root: str) -> Any:
        raise NotImplementedError

    def setup(self, root: str) -> None:
        self.model = self._make(root)
        self.with_tools = self.model.bind_tools([TOOL_SPEC])

    def call(self) -> Out:
        msg = self.model.invoke(PROMPT)
        return msg.content, _lc_usage(msg.usage_metadata)

    def tool_call(self) -> ToolOut:
        msg = self.with_tools.invoke(TOOL_PROMPT)
        tc = msg.tool_calls[0]
        return tc["id"], tc["name"], _args(tc["args"])

    def stream(self) -> Out:
        parts: list[str] = []
        usage = None
        for chunk in self.model.stream(PROMPT):
            if chunk.content:
                parts.append(chunk.content)
            if chunk.usage_metadata:
                usage = _lc_usage(chunk.usage_metadata)
        return "".join(parts), usage

    async def asetup(self, root: str) -> None:
        self.amodel = self._make(root)

    async def astream(self) -> Out:
        parts: list[str] = []
        usage = None
        async for chunk in self.amodel.astream(PROMPT):
            if chunk.content:
                parts.append(chunk.content)
            if chunk.usage_metadata:
                usage = _lc_usage(chunk.usage_metadata)
        return "".join(parts), usage


class LCChatHuggingFace(LangChainClient):
    """langchain-huggingface ``ChatHuggingFace`` over ``HuggingFaceEndpoint(endpoint_url=…)``."""

    label = "langchain-huggingface ChatHuggingFace"

    def _make(self, root: str) -> Any:
        from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint

        llm = HuggingFaceEndpoint(
            endpoint_url=root, huggingfacehub_api_token=FAKE_TOKEN, task="conversational"
        )
        return ChatHuggingFace(llm=llm, model_id=MODEL, max_tokens=MAX_TOKENS, stream_usage=True)


class LCChatOpenAI(LangChainClient):
    """langchain-openai ``ChatOpenAI(base_url=…)``."""

    label = "langchain-openai ChatOpenAI"

    def _make(self, root: str) -> Any:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=MODEL,
            base_url=root + "/v1",
            api_key=FAKE_TOKEN,
            max_tokens=MAX_TOKENS,
            stream_usage=True,
        )


class LCOurs(LangChainClient):
    """Our LangChain adapter: ``langchain_hfproviders.ChatHFProviders``."""

    label = "langchain_hfproviders ChatHFProviders"
    kind = "ours"

    def _make(self, root: str) -> Any:
        from langchain_hfproviders import ChatHFProviders

        return ChatHFProviders(
            model=MODEL, base_url=root + "/v1", api_key=FAKE_TOKEN, max_tokens=MAX_TOKENS
        )


class LCFloor(LangChainClient):
    """LangChain's own floor: a trivial ``BaseChatModel`` yielding pre-built chunks (no HTTP)."""

    label = "LangChain floor (trivial BaseChatModel)"
    kind = "framework-floor"
    uses_http = False

    def _make(self, root: str) -> Any:
        from floors import make_langchain_floor

        return make_langchain_floor()


# --------------------------------------------------------------------------- LlamaIndex


def _li_usage(resp: Any) -> Usage | None:
    """Usage from a LlamaIndex ChatResponse: token counts in additional_kwargs, else raw.usage."""
    extra = resp.additional_kwargs or {}
    if "prompt_tokens" in extra:
        return (extra["prompt_tokens"], extra["completion_tokens"], extra["total_tokens"])
    raw = resp.raw
    usage = raw.get("usage") if isinstance(raw, dict) else getattr(raw, "usage", None)
    return _usage_obj(usage)


class LlamaIndexClient(Client):
    """Shared LlamaIndex driving: chat, stream_chat, chat_with_tools, astream_chat."""

    framework = "llamaindex"

    def _make(self, root: str) -> Any:
        raise NotImplementedError

    def setup(self, root: str) -> None:
        from llama_index.core.llms import ChatMessage
        from llama_index.core.tools import FunctionTool

        self.llm = self._make(root)
        self.messages = [ChatMessage(role="user", content=PROMPT)]
        self.tool = FunctionTool.from_defaults(fn=get_weather)

    def call(self) -> Out:
        resp = self.llm.chat(self.messages)
        return resp.message.content or "", _li_usage(resp)

    def tool_call(self) -> ToolOut:
        resp = self.llm.chat_with_tools([self.tool], user_msg=TOOL_PROMPT)
        sel = self.llm.get_tool_calls_from_response(resp, error_on_no_tool_call=True)[0]
        return sel.tool_id, sel.tool_name, _args(sel.tool_kwargs)

    def stream(self) -> Out:
        parts: list[str] = []
        usage = None
        for resp in self.llm.stream_chat(self.messages):
            if resp.delta:
                parts.append(resp.delta)
            usage = _li_usage(resp) or usage
        return "".join(parts), usage

    async def asetup(self, root: str) -> None:
        from llama_index.core.llms import ChatMessage

        self.allm = self._make(root)
        self.amessages = [ChatMessage(role="user", content=PROMPT)]

    async def astream(self) -> Out:
        parts: list[str] = []
        usage = None
        async for resp in await self.allm.astream_chat(self.amessages):
            if resp.delta:
                parts.append(resp.delta)
            usage = _li_usage(resp) or usage
        return "".join(parts), usage


class LIOpenAILike(LlamaIndexClient):
    """llama-index ``OpenAILike(api_base=…)``, set up as a chat and function-calling model."""

    label = "llama-index OpenAILike"

    def _make(self, root: str) -> Any:
        from llama_index.llms.openai_like import OpenAILike

        return OpenAILike(
            model=MODEL,
            api_base=root + "/v1",
            api_key=FAKE_TOKEN,
            is_chat_model=True,
            is_function_calling_model=True,
            max_tokens=MAX_TOKENS,
            context_window=128000,
            additional_kwargs={"stream_options": {"include_usage": True}},
        )


class LIHuggingFaceAPI(LlamaIndexClient):
    """llama-index ``HuggingFaceInferenceAPI(model=<endpoint url>)``."""

    label = "llama-index HuggingFaceInferenceAPI"

    def _make(self, root: str) -> Any:
        from llama_index.llms.huggingface_api import HuggingFaceInferenceAPI

        # A URL as `model` makes huggingface_hub post to `<url>/v1/chat/completions`.
        return HuggingFaceInferenceAPI(model=root, token=FAKE_TOKEN, num_output=MAX_TOKENS)


class LIOurs(LlamaIndexClient):
    """Our LlamaIndex adapter: ``llamaindex_hfproviders.HFProviders``."""

    label = "llamaindex_hfproviders HFProviders"
    kind = "ours"

    def _make(self, root: str) -> Any:
        from llamaindex_hfproviders import HFProviders

        return HFProviders(
            model=MODEL, base_url=root + "/v1", api_key=FAKE_TOKEN, max_tokens=MAX_TOKENS
        )


class LIFloor(LlamaIndexClient):
    """LlamaIndex's own floor: a trivial function-calling LLM returning pre-built responses."""

    label = "LlamaIndex floor (trivial FunctionCallingLLM)"
    kind = "framework-floor"
    uses_http = False

    def _make(self, root: str) -> Any:
        from floors import make_llamaindex_floor

        return make_llamaindex_floor()


CLIENTS: dict[str, Callable[[], Client]] = {
    "raw_httpx": RawHttpx,
    "hf_hub": HubInferenceClient,
    "openai": OpenAISDK,
    "hfproviders": HFCore,
    "lc_floor": LCFloor,
    "lc_chathuggingface": LCChatHuggingFace,
    "lc_chatopenai": LCChatOpenAI,
    "lc_hfproviders": LCOurs,
    "li_floor": LIFloor,
    "li_openailike": LIOpenAILike,
    "li_huggingfaceapi": LIHuggingFaceAPI,
    "li_hfproviders": LIOurs,
}
