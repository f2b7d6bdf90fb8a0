"""Error bodies of every shape in WIRE.md §3 map onto the typed tree, with their context."""

from __future__ import annotations

import pytest

from hfproviders import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    GoneError,
    HFProvidersError,
    ModelNotFoundError,
    ModelNotSupportedError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
)
from hfproviders._errors import (
    error_from_response,
    error_from_stream_event,
    parse_error_body,
    redact,
)
from tests.conftest import FAKE_TOKEN

JSON = {"content-type": "application/json"}

CASES: list[tuple[int, dict[str, str], bytes, type[APIError], str, str | None]] = [
    (
        401,
        {**JSON, "x-error-message": "Invalid credentials in Authorization header"},
        b'{"error":"Invalid credentials in Authorization header"}',
        AuthenticationError,
        "Invalid credentials",
        None,
    ),
    (
        401,
        JSON,
        b'{"error":"Invalid username or password."}',
        AuthenticationError,
        "Invalid username or password.",
        None,
    ),
    (
        402,
        JSON,
        b'{"error":"You have depleted your monthly included credits. Purchase pre-paid credits to continue using Inference Providers."}',
        PaymentRequiredError,
        "depleted your monthly included credits",
        None,
    ),
    (
        403,
        JSON,
        b'{"error":{"message":"This authentication method does not have sufficient permissions to call Inference Providers on behalf of user x","type":"permission_error"}}',
        PermissionDeniedError,
        "sufficient permissions",
        None,
    ),
    (
        400,
        JSON,
        b'{"error":{"message":"The requested model \'bad model\' does not exist.","type":"invalid_request_error","param":"model","code":"model_not_found"}}',
        ModelNotFoundError,
        "does not exist",
        "model_not_found",
    ),
    (
        400,
        JSON,
        b'{"message":"The requested model \'x/y\' is not supported by any provider you have enabled.","code":"model_not_supported"}',
        ModelNotSupportedError,
        "not supported by any provider",
        "model_not_supported",
    ),
    (
        400,
        JSON,
        b'{"code":400, "reason":"INVALID_REQUEST_BODY", "message":"model features structured outputs not support", "metadata":{}}',
        ModelNotSupportedError,
        "structured outputs not support",
        "INVALID_REQUEST_BODY",
    ),
    (
        400,
        JSON,
        b'{"error":{"object":"error","type":"invalid_request_error","code":"invalid_request_error","message":"Extra inputs are not permitted, field: \'tools[0].function.arguments\'"}}',
        BadRequestError,
        "Extra inputs are not permitted",
        "invalid_request_error",
    ),
    (
        400,
        JSON,
        b'{"detail":"Invalid request. Qwen is not a multimodal model"}',
        ModelNotSupportedError,
        "not a multimodal model",
        None,
    ),
    (404, {"content-type": "text/plain"}, b"Not Found", NotFoundError, "Not Found", None),
    (
        404,
        JSON,
        b'{"error":"Model this-model-does-not-exist-123 does not exist"}',
        NotFoundError,
        "does not exist",
        None,
    ),
    (
        410,
        {"content-type": "text/plain"},
        b"https://api-inference.huggingface.co is no longer supported. Please use https://router.huggingface.co instead.",
        GoneError,
        "router.huggingface.co",
        None,
    ),
    (
        422,
        JSON,
        b'{"error":"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 1024. Given: 1000 `inputs` tokens and 100 `max_new_tokens`","error_type":"validation"}',
        ContextLengthError,
        "must be <= 1024",
        None,
    ),
    (
        422,
        JSON,
        b'{"error":"Template error: template not found","error_type":"template_error"}',
        BadRequestError,
        "Template error",
        None,
    ),
    (
        422,
        {"content-type": "text/plain; charset=utf-8"},
        b"Failed to deserialize the JSON body into the target type: messages: missing field `messages`",
        BadRequestError,
        "Failed to deserialize",
        None,
    ),
    (
        400,
        JSON,
        b'{"error":{"message":"This model\'s maximum context length is 8192 tokens. However, you requested 9000 tokens.","type":"invalid_request_error"}}',
        ContextLengthError,
        "maximum context length",
        None,
    ),
    (
        429,
        JSON,
        b'{"error":"Please log in or use a HF access token"}',
        RateLimitError,
        "log in",
        None,
    ),
    (
        500,
        JSON,
        b'{"id":"o1","error":{"message":"Internal server error","type":"server_error","param":null,"code":null}}',
        ServerError,
        "Internal server error",
        None,
    ),
    (
        500,
        JSON,
        b'{"message":"unknown error in the model inference server trace_id: abc","type":"server_error"}',
        ServerError,
        "unknown error",
        None,
    ),
    (
        500,
        JSON,
        b'{"detail":"Unable to process request. Repeat the request later."}',
        ServerError,
        "Repeat the request later",
        None,
    ),
    (
        502,
        {"content-type": "text/html"},
        b"<!doctype html><html><head><title>Hugging Face \xe2\x80\x93 The AI community</title></head><body>"
        + b"x" * 50000
        + b"</body></html>",
        ServerError,
        "HTML page (Hugging Face",
        None,
    ),
    (
        503,
        JSON,
        b'{"error":"Model facebook/bart-base is currently loading","estimated_time":20.0}',
        ServiceUnavailableError,
        "currently loading",
        None,
    ),
    (504, {}, b"", ServerError, "(empty body)", None),
]


@pytest.mark.parametrize(("status", "headers", "body", "cls", "text", "code"), CASES)
def test_error_bodies_map_to_typed_errors(
    status: int,
    headers: dict[str, str],
    body: bytes,
    cls: type[APIError],
    text: str,
    code: str | None,
) -> None:
    error = error_from_response(
        status, {**headers, "x-request-id": "TtpPGx80uP3e6pgl"}, body, provider="together"
    )
    assert type(error) is cls
    assert text in error.message
    assert error.status_code == status
    assert error.code == code
    assert error.provider == "together"
    assert error.request_id == "TtpPGx80uP3e6pgl"
    assert error.body is not None and error.body.startswith(body[:20].decode("utf-8", "replace"))
    assert len(str(error)) < 600  # an HTML page never floods a log line


def test_estimated_time_and_warnings_are_kept() -> None:
    loading = error_from_response(503, JSON, b'{"error":"loading","estimated_time":20.0}')
    assert loading.estimated_time == 20.0
    warned = error_from_response(
        400,
        JSON,
        b'{"error":"The following `model_kwargs` are not used by the model: [\'watermark\']","warnings":["There was an inference error: x"]}',
    )
    assert warned.warnings == ["There was an inference error: x"]


def test_stream_error_events() -> None:
    hf = error_from_stream_event(
        {
            "error": {
                "message": "Input validation error: grammar is not supported",
                "http_status_code": 422,
            }
        },
        provider="hf-inference",
        request_id="r1",
    )
    assert isinstance(hf, BadRequestError) and hf.status_code == 422 and hf.in_stream
    tgi = error_from_stream_event(
        {"error": "Input validation error: `inputs` must be non-empty", "error_type": "validation"},
        provider=None,
        request_id=None,
    )
    assert isinstance(tgi, BadRequestError) and tgi.code == "validation"
    overloaded = error_from_stream_event(
        {"error": "busy", "error_type": "overloaded"}, provider=None, request_id=None
    )
    assert isinstance(overloaded, ServiceUnavailableError)
    unknown = error_from_stream_event({"error": "boom"}, provider=None, request_id=None)
    assert isinstance(unknown, ServerError)


def test_tokens_are_redacted_from_messages_and_bodies() -> None:
    body = f'{{"error":"bad header Authorization: Bearer {FAKE_TOKEN}"}}'.encode()
    error = error_from_response(401, JSON, body, secrets=[FAKE_TOKEN])
    for text in (str(error), repr(error), error.message, error.body or ""):
        assert FAKE_TOKEN not in text
    real_shaped = "hf_" + "aB3" * 12  # built at run time: no token-shaped literal in the repo
    assert real_shaped not in redact(f"token {real_shaped} here")
    assert real_shaped not in str(HFProvidersError(f"oops {real_shaped}", body=real_shaped))
    assert "***" in redact("Authorization: Bearer abc.def")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": ["first", "second"]}', "first; second"),
        (
            b'{"detail": [{"loc": ["body", "x"], "msg": "field required", "type": "missing"}]}',
            "field required",
        ),
        (b"{not json", "{not json"),
        (b'{"unrelated": true}', '{"unrelated": true}'),
    ],
)
def test_odd_bodies_still_give_a_message(body: bytes, message: str) -> None:
    assert message in parse_error_body(body).message
