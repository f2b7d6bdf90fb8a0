"""`with_structured_output` assembly: which binding, which parser, and the `include_raw` wrapper."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGeneration, Generation
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

from langchain_hfproviders._convert import StructuredOutputMethod, response_format_for

__all__ = ["structured_output"]


def _raise_for_invalid_call(result: list[Generation], partial: bool) -> None:
    """A forced tool call whose arguments are not JSON is a parsing error, never `None`.

    langchain-core's tools parsers read only `message.tool_calls`; a call whose arguments did
    not parse sits in `invalid_tool_calls`, and they would return None without a word.
    """
    if partial or not result or not isinstance(result[0], ChatGeneration):
        return
    message = result[0].message
    if isinstance(message, AIMessage) and not message.tool_calls and message.invalid_tool_calls:
        call = message.invalid_tool_calls[0]
        raise OutputParserException(
            f"The model called {call.get('name')!r} with arguments that are not valid JSON "
            f"({call.get('error')})",
            llm_output=call.get("args") or "",
        )


class _StrictPydanticToolsParser(PydanticToolsParser):
    """`PydanticToolsParser` that raises on a tool call with invalid JSON arguments."""

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        _raise_for_invalid_call(result, partial)
        return super().parse_result(result, partial=partial)


class _StrictJsonOutputKeyToolsParser(JsonOutputKeyToolsParser):
    """`JsonOutputKeyToolsParser` that raises on a tool call with invalid JSON arguments."""

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        _raise_for_invalid_call(result, partial)
        return super().parse_result(result, partial=partial)


def structured_output(
    model: BaseChatModel,
    schema: dict[str, Any] | type | None,
    *,
    method: StructuredOutputMethod,
    include_raw: bool,
    strict: bool | None,
    kwargs: dict[str, Any],
) -> Runnable[LanguageModelInput, Any]:
    """Bind `model` for `method` and parse its answer into `schema` (see the model's docstring)."""
    is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    if schema is not None:
        # LangSmith and the standard tests read the requested schema from this binding.
        kwargs["ls_structured_output_format"] = {
            "kwargs": {"method": method, "strict": strict},
            "schema": schema,
        }
    llm: Runnable[LanguageModelInput, BaseMessage]
    parser: Runnable[Any, Any]
    if method == "function_calling":
        if schema is None:
            raise ValueError("method='function_calling' needs a schema")
        name = convert_to_openai_tool(schema)["function"]["name"]
        llm = model.bind_tools([schema], tool_choice=name, strict=strict, **kwargs)
        parser = (
            _StrictPydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
            if is_pydantic
            else _StrictJsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        )
    elif method in ("json_schema", "json_mode"):
        response_format = response_format_for(schema, method, strict=strict)
        llm = model.bind(response_format=response_format, **kwargs)
        parser = (
            PydanticOutputParser(pydantic_object=schema)  # type: ignore[arg-type]
            if is_pydantic
            else JsonOutputParser()
        )
    else:
        raise ValueError(
            f"method must be 'function_calling', 'json_schema' or 'json_mode', got {method!r}"
        )
    if not include_raw:
        return llm | parser
    parse = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    no_parse = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parse.with_fallbacks([no_parse], exception_key="parsing_error")
