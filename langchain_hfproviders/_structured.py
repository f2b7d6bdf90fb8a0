"""`with_structured_output` assembly: which binding, which parser, and the `include_raw` wrapper."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

from langchain_hfproviders._convert import StructuredOutputMethod, response_format_for

__all__ = ["structured_output"]


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
            PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
            if is_pydantic
            else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
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
