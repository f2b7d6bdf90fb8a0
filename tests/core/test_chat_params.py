"""The cheap check of plain chat parameters gives exactly what the pydantic check gives.

`_plain_chat_values` takes the values most calls send (numbers in range, bools, strings, tool
lists); for anything else it steps aside and pydantic decides (and words the error). Where it
answers, its answer must equal pydantic's, key order included (the body's bytes and cache keys
depend on it).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from hfproviders import InvalidParameterError
from hfproviders._params import _chat_model, _plain_chat_values, _validate, build_chat_body

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
SAMPLES: dict[str, list[Any]] = {
    "temperature": [0, 0.0, 1, 0.7, 2, 2.0, -0.1, 2.01, math.nan, math.inf, "0.5", True, None],
    "top_p": [0, 0.0, 1e-9, 0.9, 1, 1.5, math.nan, "1", False],
    "max_tokens": [1, 256, 10**30, 0, -5, 256.0, "256", True, None, math.inf],
    "seed": [0, -3, 2**70, 1.0, "7", False],
    "frequency_penalty": [-2, -2.0, 0, 2, 2.5, -math.inf],
    "presence_penalty": [-1.5, 3],
    "logprobs": [True, False, 1, "yes", None],
    "top_logprobs": [0, 20, 21, -1, 5.0],
    "n": [1, 128, 0, 129],
    "tools": [[TOOL], [], [TOOL, TOOL], [("a", 1)], "tools", [{1: "x"}], None],
    "parallel_tool_calls": [True, 0],
    "user": ["someone", 5, b"x"],
    "stop": ["\n", ["a", "b"]],
    "tool_choice": ["auto"],
}


def _pydantic(params: dict[str, Any]) -> dict[str, Any] | InvalidParameterError:
    try:
        return _validate(_chat_model(), params, "chat")
    except InvalidParameterError as error:
        return error


def _cases() -> list[dict[str, Any]]:
    singles = [{name: value} for name, values in SAMPLES.items() for value in values]
    pairs = [
        {a: va, b: vb}
        for a, b in itertools.combinations(["max_tokens", "temperature", "tools", "seed"], 2)
        for va in SAMPLES[a][:4]
        for vb in SAMPLES[b][:4]
    ]
    everything = {name: values[0] for name, values in SAMPLES.items() if name != "tool_choice"}
    return [*singles, *pairs, everything, dict(reversed(everything.items()))]


@pytest.mark.parametrize("params", _cases(), ids=repr)
def test_plain_values_are_read_as_pydantic_reads_them(params: dict[str, Any]) -> None:
    fast = _plain_chat_values(params)
    if fast is None:
        return  # pydantic decides
    expected = _pydantic(params)
    assert not isinstance(expected, InvalidParameterError), "the fast path took a bad value"
    assert fast == expected
    assert list(fast) == list(expected)  # same order: same body bytes, same cache key
    assert [type(v) for v in fast.values()] == [type(v) for v in expected.values()]


def test_the_common_shapes_take_the_cheap_path() -> None:
    taken = [
        {"max_tokens": 256},
        {"temperature": 0, "max_tokens": 5},
        {"tools": [TOOL], "max_tokens": 256},
        {"temperature": 0.2, "top_p": 0.9, "seed": 1, "user": "u", "stop": None},
    ]
    assert all(_plain_chat_values(p) is not None for p in taken)
    stepped_aside = [{"stop": "x"}, {"max_tokens": "5"}, {"temperature": math.nan}, {"bogus": None}]
    assert all(_plain_chat_values(p) is None for p in stepped_aside)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"temperature": 3}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": math.nan}, "temperature"),
        ({"top_logprobs": 21, "logprobs": True}, "top_logprobs"),
    ],
)
def test_bad_values_still_get_pydantics_typed_error(params: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidParameterError, match=words):
        build_chat_body(
            "m",
            [{"role": "user", "content": "x"}],
            params,
            stream=False,
            stream_usage=False,
            extra_body=None,
            max_input_chars=None,
        )
