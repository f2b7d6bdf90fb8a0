"""The default answer: what a capable chat model would reply to a request (deterministic).

It calls a tool the user asked about (arguments taken from the prompt, fitting the tool's
schema), fills a requested JSON schema, answers from tool results after a tool turn, honours
`stop` and `max_tokens`, and reasons first for reasoning models. Enough for agents, structured
output and chains to run end to end against the fake router with no script at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from hfproviders.testing._script import Reply, ToolCall

__all__ = ["REASONING_MODELS", "auto_reply", "fill_schema", "message_text", "tokens"]

REASONING_MODELS = re.compile(r"deepseek-r1|gpt-oss|qwq|thinking", re.IGNORECASE)
"""Models the fake router answers with reasoning first."""

_STOP_WORDS = frozenset({"get", "tool", "function", "my", "the", "generator", "picker"})
_JOKE = {
    "setup": "Why was the cat sitting on the computer?",
    "punchline": "To keep an eye on the mouse!",
}


def tokens(text: str) -> int:
    """A token count estimate: four characters a token."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def message_text(content: Any) -> str:
    """The text of a message's `content` (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _has_image(message: Mapping[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") == "image_url" for p in content
    )


def _mentions(text: str, tool_name: str) -> bool:
    lowered = text.lower()
    if tool_name.lower() in lowered:
        return True
    parts = [p for p in tool_name.lower().split("_") if len(p) >= 4 and p not in _STOP_WORDS]
    return any(part in lowered for part in parts)


def _place(text: str) -> str:
    match = re.search(r"\bin ([A-Z][\w .'-]*?(?:, [A-Z]{2})?)(?:[?.!]|,| and|$)", text)
    return match.group(1).strip() if match else "San Francisco, CA"


def _string_value(name: str, text: str) -> str:
    quoted = re.search(r"'([^']+)'", text)
    values = {
        "location": _place(text),
        "city": _place(text).split(",")[0],
        "timezone": "Europe/Paris" if "Paris" in text else "America/Los_Angeles",
        "answer_style": "pirate" if "pirate" in text.lower() else "friendly",
        "customer_name": quoted.group(1) if quoted else "Example Corp",
        "description": text.split(" - ", 1)[1].strip() if " - " in text else "A new customer",
        "fav_color": "purple",
        "title": "Blade Runner",
        **_JOKE,
    }
    return values.get(name, "example")


def fill_schema(schema: Mapping[str, Any], text: str) -> dict[str, Any]:
    """Values that fit a JSON schema's properties, taken from `text` where it says what they are."""
    numbers = iter(int(n) for n in re.findall(r"-?\d+", text))
    skip_optional = "no punchline" in text.lower()
    out: dict[str, Any] = {}
    required = set(schema.get("required") or ())
    for name, spec in (schema.get("properties") or {}).items():
        if skip_optional and name not in required:
            continue
        if not isinstance(spec, Mapping):
            continue
        kinds = {spec.get("type")} | {s.get("type") for s in spec.get("anyOf") or ()}
        if spec.get("enum"):
            out[name] = spec["enum"][0]
        elif "integer" in kinds or "number" in kinds:
            out[name] = next(numbers, 1982 if name == "year" else 1)
        elif "boolean" in kinds:
            out[name] = False
        elif "array" in kinds:
            out[name] = []
        elif "object" in kinds:
            out[name] = fill_schema(spec, text)
        else:
            out[name] = _string_value(name, text)
    return out


def _user_texts(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    return [message_text(m.get("content")) for m in messages if m.get("role") == "user"]


def _called(messages: Sequence[Mapping[str, Any]]) -> set[str]:
    return {
        str((call.get("function") or {}).get("name"))
        for m in messages
        if m.get("role") == "assistant"
        for call in m.get("tool_calls") or ()
        if isinstance(call, Mapping)
    }


_CANNED = (
    (
        "haiku",
        "Morning light on snow,\nfootprints lead to the old pond,\na frog breaks the ice.\n\n"
        "Autumn wind rises,\nred leaves spin above the road,\nthe cat watches them.",
    ),
    (
        "story",
        "Once upon a time, a small grey cat named Pixel lived in a lighthouse by the sea. "
        "Every night she watched the beam sweep across the waves, counting the ships that passed. "
        "One stormy evening the light flickered and went out. Pixel climbed the spiral stairs, "
        "found the keeper asleep, and knocked his lantern off the table until he woke. Together "
        "they relit the lamp just as a fishing boat turned toward the rocks. The boat saw the "
        "beam, changed course, and reached the harbour safely. From then on, the fishermen left a "
        "fresh sardine on the lighthouse steps every morning.",
    ),
    ("famous cat", "Garfield, the lasagna-loving cat from the comic strip."),
    ("joke", f"{_JOKE['setup']} {_JOKE['punchline']}"),
    ("17 * 23", "17 * 23 = 391."),
    ("how are you", "I'm doing well, thank you for asking! How can I help you today?"),
    ("color", "My favourite colour here is purple: it stands out against the background."),
    ("colour", "My favourite colour here is purple: it stands out against the background."),
    ("capital of france", "The capital of France is Paris."),
    ("count from 1 to 5", "1 2 3 4 5"),
    (
        "hugging face",
        "Hugging Face is a platform where people share and run machine learning models.",
    ),
)


def answer_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """A plain answer to the conversation so far."""
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        results = [message_text(m.get("content")) for m in messages if m.get("role") == "tool"]
        return "Here is what the tools returned: " + " ".join(r.strip() for r in results)
    users = _user_texts(messages)
    text = (users[-1] if users else "").lower()
    if _has_image(last):
        return "The image is a diagram: labelled boxes joined by arrows that show a workflow."
    for needle, answer in _CANNED:
        if needle == "famous cat" and (fact := re.search(r"fact about (\w+)", text)):
            subject = fact.group(1)
            return f"A fun fact about {subject}: they spend a surprising part of the day resting."
        if needle in text:
            return answer
    return "Hello! How can I help you today?"


def _choose_tool(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    tools = [t["function"] for t in body.get("tools") or () if isinstance(t, Mapping)]
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none":
        return None
    messages = body.get("messages") or []
    if isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name")
        chosen: Mapping[str, Any] = next((t for t in tools if t.get("name") == name), tools[0])
        return chosen
    forced = choice in ("required", "any")
    users = _user_texts(messages)
    if messages and messages[-1].get("role") == "tool" and not forced:
        # After a tool result, call the next tool the user asked about, if any.
        wanted = users[0] if users else ""
        done = _called(messages)
        return next(
            (t for t in tools if t["name"] not in done and _mentions(wanted, t["name"])), None
        )
    text = users[-1] if users else ""
    mentioned = next((t for t in tools if _mentions(text, t["name"])), None)
    return mentioned or (tools[0] if forced else None)


def _json_value(body: Mapping[str, Any]) -> Any:
    response_format = body["response_format"]
    users = _user_texts(body.get("messages") or [])
    text = users[-1] if users else ""
    if response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        return fill_schema(spec.get("schema") or spec, text)
    if "setup" in text and "punchline" in text:
        return dict(_JOKE)
    return {"answer": answer_text(body.get("messages") or [])}


def _apply_stop(content: str, stop: Any) -> str:
    stops = [stop] if isinstance(stop, str) else list(stop or ())
    cut = min((content.find(s) for s in stops if s and s in content), default=-1)
    return content[:cut] if cut >= 0 else content


def auto_reply(body: Mapping[str, Any]) -> Reply:
    """Decide what a capable chat model would answer to this chat request body."""
    messages = body.get("messages") or []
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    tool = _choose_tool(body)
    users = _user_texts(messages)
    if tool is not None:
        args = fill_schema(tool.get("parameters") or {}, users[-1] if users else "")
        return Reply(tool_calls=[ToolCall(str(tool["name"]), args)])
    reasoning = ""
    if REASONING_MODELS.search(str(body.get("model", ""))):
        question = (users[-1] if users else "").strip() or "the request"
        reasoning = f"The user asks: {question} Let me work it out step by step before answering."
    response_format = body.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") in (
        "json_object",
        "json_schema",
    ):
        return Reply(json=_json_value(body), reasoning=reasoning)
    content = _apply_stop(answer_text(messages), body.get("stop"))
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
    if isinstance(max_tokens, int) and tokens(content) > max_tokens:
        return Reply(text=content[: max_tokens * 4], reasoning=reasoning, finish_reason="length")
    return Reply(text=content, reasoning=reasoning)
