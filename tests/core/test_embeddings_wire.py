"""The pure half of embeddings: routes from the Hub mapping, batching, answer checks."""

from __future__ import annotations

from typing import Any

import pytest

from hfproviders import (
    BadRequestError,
    EmbeddingResponseError,
    InvalidParameterError,
    PartialEmbeddingError,
    PromptTooLongError,
    RateLimitError,
)
from hfproviders._embeddings import (
    EmbedCall,
    EmbeddingBatch,
    EmbeddingOptions,
    EmbeddingTarget,
    batch_slices,
    embedding_body,
    endpoint_target,
    gather_outcomes,
    learned_max_inputs,
    parse_embedding_answer,
    router_targets,
    validate_embedding_inputs,
    validate_embedding_options,
)
from hfproviders._hub import parse_provider_mapping
from hfproviders._types import ResponseMeta
from tests.core.embed_kit import DEFAULT_MAPPING, EMBED_MODEL, mapping

ROOT = "https://router.huggingface.co"


def test_batch_slices_cover_every_input_once() -> None:
    assert batch_slices(100, 32, None) == [(0, 32), (32, 64), (64, 96), (96, 100)]
    assert batch_slices(5, 32, 2) == [(0, 2), (2, 4), (4, 5)]
    assert batch_slices(1, 32, None) == [(0, 1)]


def test_learned_limit_reads_tei_and_openai_gateway_messages() -> None:
    def err(code: int, message: str) -> Any:
        return BadRequestError(message, status_code=code)

    assert learned_max_inputs(err(413, "batch size 64 > maximum allowed batch size 32")) == 32
    assert (
        learned_max_inputs(err(400, "input batch size 100 > maximum allowed batch size 64")) == 64
    )
    assert learned_max_inputs(err(413, "Input validation error: too long")) is None
    assert learned_max_inputs(err(500, "maximum allowed batch size 8")) is None


def test_router_targets_keep_the_hub_order_and_named_order() -> None:
    mappings = parse_provider_mapping(DEFAULT_MAPPING)
    auto = router_targets(EMBED_MODEL, (None,), mappings, ROOT)
    assert [t.provider for t in auto] == ["together", "deepinfra", "hf-inference"]
    named = router_targets(EMBED_MODEL, ("hf-inference", "together"), mappings, ROOT)
    assert [(t.provider, t.style) for t in named] == [
        ("hf-inference", "tei"),
        ("together", "openai"),
    ]
    unknown_route = router_targets(
        EMBED_MODEL,
        (None,),
        parse_provider_mapping(mapping(("newco", "live", "feature-extraction", "x"))),
        ROOT,
    )
    assert (
        unknown_route[0].url == f"{ROOT}/newco/v1/embeddings"
    )  # OpenAI default for a new provider


def test_endpoint_target_shapes() -> None:
    assert endpoint_target("http://localhost:8080/", "m") == EmbeddingTarget(
        None, "http://localhost:8080/embed", "tei"
    )
    assert endpoint_target("http://h/v1/embeddings", "m").style == "openai"


def test_parse_base64_vectors_and_unordered_indexes() -> None:
    import base64
    import struct

    packed = base64.b64encode(struct.pack("<3f", 1.0, 2.0, 3.0)).decode()
    target = EmbeddingTarget("together", "u", "openai", "m")
    data = {"data": [{"index": 1, "embedding": [9.0, 9.0, 9.0]}, {"index": 0, "embedding": packed}]}
    batch = parse_embedding_answer(
        target, data, 2, EmbeddingOptions(), ResponseMeta(status_code=200)
    )
    assert batch.vectors == [[1.0, 2.0, 3.0], [9.0, 9.0, 9.0]]


def test_bodies_in_both_shapes() -> None:
    options = EmbeddingOptions(
        dimensions=256, normalize=True, truncate=False, extra={"prompt_name": "q"}
    )
    tei = EmbeddingTarget("hf-inference", "u", "tei")
    assert embedding_body(tei, ["a"], options) == {
        "inputs": ["a"],
        "normalize": True,
        "truncate": False,
        "dimensions": 256,
        "prompt_name": "q",
    }
    openai = EmbeddingTarget("together", "u", "openai", "prov/id")
    assert embedding_body(openai, ["a"], options) == {
        "model": "prov/id",
        "input": ["a"],
        "dimensions": 256,
        "prompt_name": "q",
    }


def test_input_and_option_checks() -> None:
    assert validate_embedding_inputs("x", None) == (["x"], True)
    assert validate_embedding_inputs(("x", ""), None) == (["x", ""], False)
    with pytest.raises(PromptTooLongError):
        validate_embedding_inputs(["abc"], 2)
    with pytest.raises(InvalidParameterError):
        validate_embedding_options(None, None, None, {"user": object()})
    assert validate_embedding_options(8, None, None, {"user": None}).extra == {}


def _call(targets: list[EmbeddingTarget], count: int, batch_size: int = 32) -> EmbedCall:
    call = EmbedCall(
        EMBED_MODEL,
        (None,),
        ["t"] * count,
        False,
        EmbeddingOptions(),
        batch_size=batch_size,
        max_concurrency=4,
        timeout=None,
        extra_headers=None,
    )
    call.targets = targets
    return call


def test_slices_follow_the_strictest_provider_and_learned_limits() -> None:
    tei = EmbeddingTarget("hf-inference", "u", "tei", None, 32)
    openai = EmbeddingTarget("together", "u", "openai", "m", 2048)
    call = _call([openai, tei], 100, batch_size=64)
    assert call.slices() == [(0, 32), (32, 64), (64, 96), (96, 100)]
    refused = BadRequestError("batch size 32 > maximum allowed batch size 10", status_code=413)
    assert call.learn_limit(openai, refused, 32) is True
    assert call.slices_for(openai, 32, 64) == [(32, 42), (42, 52), (52, 62), (62, 64)]
    assert call.slices_for(tei, 32, 64) == [(32, 64)]  # a limit is per provider
    assert call.learn_limit(openai, refused, 10) is False  # never loops on the same size


def test_next_provider_fails_over_only_when_the_error_allows() -> None:
    a = EmbeddingTarget("together", "u", "openai", "m")
    b = EmbeddingTarget("deepinfra", "u", "openai", "m")
    call = _call([a, b], 1)
    failures: list[Any] = []
    busy = RateLimitError("busy", status_code=429)
    call.next_provider(busy, failures, 0)  # returns: try the next one
    assert failures == [busy]
    with pytest.raises(Exception) as caught:
        call.next_provider(RateLimitError("busy too", status_code=429), failures, 1)
    assert type(caught.value).__name__ == "AllProvidersFailedError"
    with pytest.raises(BadRequestError):
        call.next_provider(BadRequestError("bad", status_code=400), [], 0)


def test_gather_outcomes_keeps_what_arrived() -> None:
    meta = ResponseMeta(status_code=200)
    ok = [EmbeddingBatch([[1.0], [2.0]], None, None, meta)]
    boom = RateLimitError("busy", status_code=429)
    assert [b.vectors for b in gather_outcomes([(0, 2)], [ok], 2)] == [[[1.0], [2.0]]]
    with pytest.raises(PartialEmbeddingError) as caught:
        gather_outcomes([(0, 2), (2, 3)], [ok, boom], 3)
    assert caught.value.embeddings == [[1.0], [2.0], None] and caught.value.failed_indices == [2]
    with pytest.raises(RateLimitError):
        gather_outcomes([(0, 2), (2, 3)], [boom, boom], 3)
    with pytest.raises(KeyError):  # not ours: re-raised as is
        gather_outcomes([(0, 2)], [KeyError("bug")], 2)


def test_openai_answer_without_indexes_keeps_arrival_order_and_rejects_mixed() -> None:
    target = EmbeddingTarget("x", "u", "openai", "m")
    meta = ResponseMeta(status_code=200)
    batch = parse_embedding_answer(
        target, {"data": [{"embedding": [1]}, {"embedding": [2]}]}, 2, EmbeddingOptions(), meta
    )
    assert batch.vectors == [[1.0], [2.0]] and all(
        type(x) is float for v in batch.vectors for x in v
    )
    with pytest.raises(EmbeddingResponseError, match="Only some"):
        parse_embedding_answer(
            target,
            {"data": [{"embedding": [1], "index": 0}, {"embedding": [2]}]},
            2,
            EmbeddingOptions(),
            meta,
        )
    with pytest.raises(EmbeddingResponseError, match="base64"):
        parse_embedding_answer(
            target, {"data": [{"embedding": "@@@"}]}, 1, EmbeddingOptions(), meta
        )


def test_one_deadline_for_the_whole_call() -> None:
    from hfproviders import APITimeoutError

    call = _call([EmbeddingTarget("hf-inference", "u", "tei", None, 32)], 10)
    call.start(5.0, now=100.0)
    assert call.time_left(now=101.5) == 3.5
    with pytest.raises(APITimeoutError):
        call.time_left(now=105.0)


def test_json_integers_become_floats_and_huge_ones_are_typed_errors() -> None:
    meta = ResponseMeta(status_code=200)
    tei = EmbeddingTarget("hf-inference", "u", "tei")
    batch = parse_embedding_answer(tei, [[0, 1.5, 2]], 1, EmbeddingOptions(), meta)
    assert batch.vectors == [[0.0, 1.5, 2.0]] and all(type(x) is float for x in batch.vectors[0])
    with pytest.raises(EmbeddingResponseError, match="finite"):
        parse_embedding_answer(tei, [[1.0, 10**400]], 1, EmbeddingOptions(), meta)
