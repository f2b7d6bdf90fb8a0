"""Embeddings (feature extraction): routes, bodies, batching and answer checks (pure, no I/O).

Feature extraction is not on the router's unified `/v1`: each provider has its own route under
`https://router.huggingface.co/{provider}/…`, and the provider's own model id comes from the Hub's
`inferenceProviderMapping` (task `feature-extraction`). Two body shapes exist on the wire
(huggingface_hub 2.4 `inference/_providers/*.py`, huggingface.js tapes, TEI `router/src/http`):

- **TEI style** (hf-inference, TEI's `/embed`, Inference Endpoints):
  `{"inputs": [...], "normalize"?, "truncate"?, "prompt_name"?, "truncation_direction"?}` →
  `[[float, ...], ...]`, one vector per input.
- **OpenAI style** (together, deepinfra, scaleway, TEI's `/v1/embeddings`, vLLM …):
  `{"model": <provider's id>, "input": [...], "dimensions"?}` →
  `{"data": [{"embedding": [...], "index": i}], "model": …, "usage": {…}}`.

Which providers serve a model is never hard-coded: it is read from the Hub mapping. Only the
route per provider is a table (as in huggingface_hub), with the OpenAI path as the default for a
provider this table does not know yet.
"""

from __future__ import annotations

import base64
import math
import re
import struct
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit

from hfproviders._errors import (
    APIError,
    HFProvidersError,
    InvalidParameterError,
    ModelNotSupportedError,
    PromptTooLongError,
)
from hfproviders._request import Request, RequestKind
from hfproviders._types import ResponseMeta, Usage

if TYPE_CHECKING:
    from hfproviders._config import ClientConfig
    from hfproviders._hub import ModelAvailability, ProviderMapping

__all__ = [
    "DEFAULT_EMBED_BATCH_SIZE",
    "EmbedCall",
    "EMBEDDINGS",
    "EmbeddingBatch",
    "EmbeddingRequest",
    "EmbeddingOptions",
    "EmbeddingResponseError",
    "EmbeddingResult",
    "EmbeddingTarget",
    "PartialEmbeddingError",
    "batch_slices",
    "check_batch_size",
    "choose_targets",
    "embedding_body",
    "embed_budget",
    "embedding_request",
    "endpoint_target",
    "estimate_embedding_tokens",
    "gather_outcomes",
    "learned_max_inputs",
    "merge_batches",
    "new_embed_call",
    "parse_embedding_answer",
    "provider_target",
    "router_root",
    "router_targets",
    "validate_embedding_inputs",
    "validate_embedding_options",
]

DEFAULT_EMBED_BATCH_SIZE = 32
EmbeddingStyle = Literal["tei", "openai"]
# The tasks under which the Hub maps a model for embeddings; hf-inference treats the two as one
# (huggingface_hub `_check_supported_task`), other providers only serve `feature-extraction`.
FEATURE_TASK = "feature-extraction"
_HF_INFERENCE_TASKS = frozenset({FEATURE_TASK, "sentence-similarity"})
# Routes under `router.huggingface.co/{provider}` (huggingface_hub 2.4 `_prepare_route`).
_OPENAI_ROUTES = {
    "together": "/v1/embeddings",
    "deepinfra": "/v1/openai/embeddings",
    "scaleway": "/v1/embeddings",
}
_DEFAULT_OPENAI_ROUTE = "/v1/embeddings"  # [INF] a provider the table does not know yet
# How many inputs one request may carry. TEI refuses more than `max_client_batch_size` (32 by
# default) with a 413; hf-inference runs TEI [INF]. OpenAI-compatible APIs accept up to 2048.
_MAX_INPUTS = {"hf-inference": 32}
_OPENAI_MAX_INPUTS = 2048
_BATCH_CAP_RE = re.compile(
    r"maximum allowed batch size\s*(?:is\s*)?(\d+)|batch size \d+ > (\d+)", re.IGNORECASE
)


class EmbeddingResponseError(APIError):
    """A 200 answer that is not the embeddings asked for.

    Not a list of finite floats, token-level features instead of one vector per input, fewer or
    more vectors than inputs, or vectors of different lengths.
    """


class PartialEmbeddingError(HFProvidersError):
    """Some batches of an `embed` call failed (after retries and failover); the rest succeeded.

    `embeddings` holds every vector that arrived, in input order, with None where a batch failed;
    `errors` maps the first input index of each failed batch to its typed error. Nothing that was
    paid for is lost: re-embed only `failed_indices`.
    """

    def __init__(
        self, embeddings: list[list[float] | None], errors: dict[int, HFProvidersError]
    ) -> None:
        first = errors[min(errors)]
        missing = sum(1 for vector in embeddings if vector is None)
        super().__init__(
            f"{len(errors)} embedding batch(es) failed, {missing} of {len(embeddings)} inputs "
            f"have no vector; first error: {first.message}",
            status_code=first.status_code,
            code=first.code,
            provider=first.provider,
            request_id=first.request_id,
            body=first.body,
            retry_after=first.retry_after,
            rate_limit=first.rate_limit,
        )
        self.embeddings = embeddings
        self.errors = errors

    @property
    def failed_indices(self) -> list[int]:
        """Positions of the inputs that have no vector."""
        return [i for i, vector in enumerate(self.embeddings) if vector is None]


@dataclass(frozen=True, slots=True)
class EmbeddingTarget:
    """Where one provider (or one endpoint) takes an embeddings request, and in which shape."""

    provider: str | None
    url: str
    style: EmbeddingStyle
    payload_model: str | None = None
    max_inputs: int | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingOptions:
    """Checked options of one `embed` call."""

    dimensions: int | None = None
    normalize: bool | None = None
    truncate: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class EmbeddingBatch:
    """One request's answer: its vectors, usage, the model that served, and its meta."""

    vectors: list[list[float]]
    usage: Usage | None
    model: str | None
    meta: ResponseMeta
    raw: Any = None


@dataclass(slots=True)
class EmbeddingResult:
    """The vectors for every input of an `embed` call, in input order.

    `model` is the model that served (the provider's id when it reports one), `provider` the
    Inference Provider that served, `usage` the summed token usage when the provider reports it,
    `meta` the call's meta (as on chat results: provider, request ids, latency, attempts, failed
    providers), and `batches` the meta of each request when the inputs took several.

    Example:
        >>> result = client.embed("BAAI/bge-small-en-v1.5", ["a", "b"])  # doctest: +SKIP
        >>> len(result.embeddings), result.dimensions, result.provider
        (2, 384, 'hf-inference')

    """

    embeddings: list[list[float]]
    model: str
    provider: str | None
    usage: Usage | None
    meta: ResponseMeta
    batches: list[ResponseMeta] = field(default_factory=list)

    @property
    def dimensions(self) -> int:
        """The length of each vector (0 when there are none)."""
        return len(self.embeddings[0]) if self.embeddings else 0

    def __len__(self) -> int:
        return len(self.embeddings)


# -- input checks ------------------------------------------------------------------------------


def validate_embedding_inputs(
    inputs: str | Sequence[str], max_input_chars: int | None
) -> tuple[list[str], bool]:
    """The texts to embed and whether one string (not a list) was given.

    Raises `InvalidParameterError` for anything but a string or a non-empty list of strings, and
    `PromptTooLongError` for a text over `max_input_chars`.
    """
    if isinstance(inputs, str):
        texts, single = [inputs], True
    elif isinstance(inputs, Sequence) and not isinstance(inputs, bytes | bytearray):
        texts, single = list(inputs), False
    else:
        raise InvalidParameterError(
            f"inputs must be a string or a list of strings, got {type(inputs).__name__}"
        )
    if not texts:
        raise InvalidParameterError("inputs must not be an empty list")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidParameterError(
                f"inputs[{position}] must be a string, got {type(text).__name__}"
            )
        if max_input_chars is not None and len(text) > max_input_chars:
            raise PromptTooLongError(
                f"inputs[{position}] has {len(text)} characters, over max_input_chars="
                f"{max_input_chars}"
            )
    return texts, single


def validate_embedding_options(
    dimensions: Any, normalize: Any, truncate: Any, params: Mapping[str, Any]
) -> EmbeddingOptions:
    """Check `dimensions`, `normalize`, `truncate` and extra body fields (JSON values only)."""
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise InvalidParameterError(f"dimensions must be a positive integer, got {dimensions!r}")
    for name, value in (("normalize", normalize), ("truncate", truncate)):
        if value is not None and not isinstance(value, bool):
            raise InvalidParameterError(f"{name} must be True, False or None, got {value!r}")
    reserved = {"input", "inputs", "model"} & set(params)
    if reserved:
        raise InvalidParameterError(
            f"{sorted(reserved)} are set by embed() itself; pass the texts as `inputs`"
        )
    extra = {k: v for k, v in params.items() if v is not None}
    if extra:
        _check_json(extra, "embed() parameters")
    return EmbeddingOptions(dimensions, normalize, truncate, extra)


def check_batch_size(value: Any, name: str = "embed_batch_size") -> int:
    """A batch size: an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _check_json(value: Any, what: str) -> None:
    import json

    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{what} must be JSON values (no NaN): {exc}") from None


# -- where the request goes ------------------------------------------------------------------


def _serves_embeddings(mapping: ProviderMapping) -> bool:
    if mapping.provider == "hf-inference":
        return mapping.task is None or mapping.task in _HF_INFERENCE_TASKS
    return mapping.task == FEATURE_TASK


def provider_target(
    router_root: str, provider: str, model: str, provider_model_id: str | None
) -> EmbeddingTarget:
    """The route and body shape of one provider for `model` (provider id from the Hub)."""
    if provider == "hf-inference":
        url = f"{router_root}/hf-inference/models/{quote(model, safe='/')}/pipeline/{FEATURE_TASK}"
        return EmbeddingTarget(provider, url, "tei", None, _MAX_INPUTS["hf-inference"])
    route = _OPENAI_ROUTES.get(provider, _DEFAULT_OPENAI_ROUTE)
    return EmbeddingTarget(
        provider,
        f"{router_root}/{provider}{route}",
        "openai",
        provider_model_id or model,
        _MAX_INPUTS.get(provider, _OPENAI_MAX_INPUTS),
    )


def router_targets(
    model: str,
    chain: Sequence[str | None],
    mappings: Sequence[ProviderMapping],
    router_root: str,
) -> list[EmbeddingTarget]:
    """The providers to try, in order, for embeddings of `model` on the router.

    `chain` is the client's provider setting resolved (a name, a policy, a list). A policy or
    no provider takes every **live** provider the Hub maps to `model` for feature extraction, in
    the Hub's order (the account's preference order when the lookup is authenticated): the
    router's latency/price catalogue covers chat models only. Named providers are kept in the
    caller's order when the Hub maps them for the task (hf-inference also without a mapping: it
    takes the Hub id). Raises `ModelNotSupportedError` naming who does serve it when none fits.
    """
    serving = [m for m in mappings if _serves_embeddings(m)]
    named = [p for p in chain if p not in (None, "fastest", "cheapest", "preferred")]
    targets: list[EmbeddingTarget] = []
    if not named:
        for mapping in serving:
            if mapping.is_live:
                targets.append(
                    provider_target(router_root, mapping.provider, model, mapping.provider_model_id)
                )
    else:
        by_name = {m.provider.casefold(): m for m in serving}
        for name in named:
            assert name is not None
            found = by_name.get(name.casefold())
            if found is not None:
                targets.append(
                    provider_target(router_root, found.provider, model, found.provider_model_id)
                )
            elif name == "hf-inference":
                targets.append(provider_target(router_root, name, model, None))
    if targets:
        return targets
    live = [m.provider for m in serving if m.is_live]
    wanted = f"provider(s) {', '.join(map(str, named))}" if named else "any live provider"
    raise ModelNotSupportedError(
        f"{model} is not served for feature-extraction by {wanted}. The Hub maps it for "
        f"embeddings to: {', '.join(live) if live else 'no live provider'}.",
        code="model_not_supported",
        provider=named[0] if len(named) == 1 else None,
    )


def endpoint_target(base_url: str, model: str) -> EmbeddingTarget:
    """A dedicated Inference Endpoint, TEI or any OpenAI-compatible server at `base_url`.

    A base URL ending in `/v1` (or a full `…/embeddings` URL) speaks the OpenAI shape (TEI's
    `/v1/embeddings`, vLLM); a server root speaks TEI's native `/embed`.
    """
    base = base_url.rstrip("/")
    path = urlsplit(base).path
    if path.endswith("/embeddings"):
        return EmbeddingTarget(None, base, "openai", model)
    if path.endswith("/embed"):
        return EmbeddingTarget(None, base, "tei")
    if path.endswith("/v1"):
        return EmbeddingTarget(None, f"{base}/embeddings", "openai", model)
    return EmbeddingTarget(None, f"{base}/embed", "tei")


# -- bodies and batches ----------------------------------------------------------------------


def embedding_body(
    target: EmbeddingTarget, texts: list[str], options: EmbeddingOptions
) -> dict[str, Any]:
    """The JSON body for `texts` in the target's shape.

    `normalize` and `truncate` are TEI options: an OpenAI-style provider gets neither (the
    client normalises the vectors itself when `normalize=True`; truncation follows the provider's
    own rule). `dimensions` goes to both (TEI ≥ 1.7 and OpenAI-style Matryoshka models).
    """
    body: dict[str, Any]
    if target.style == "tei":
        body = {"inputs": texts}
        if options.normalize is not None:
            body["normalize"] = options.normalize
        if options.truncate is not None:
            body["truncate"] = options.truncate
    else:
        body = (
            {"model": target.payload_model, "input": texts}
            if target.payload_model
            else {"input": texts}
        )
    if options.dimensions is not None:
        body["dimensions"] = options.dimensions
    body.update(options.extra)
    return body


def batch_slices(count: int, batch_size: int, max_inputs: int | None) -> list[tuple[int, int]]:
    """Split `count` inputs into `[start, stop)` slices of at most the allowed size, in order."""
    size = min(batch_size, max_inputs) if max_inputs else batch_size
    return [(start, min(start + size, count)) for start in range(0, count, size)]


def learned_max_inputs(error: HFProvidersError) -> int | None:
    """The batch limit a server named when it refused a batch as too large (TEI's 413/422)."""
    if not isinstance(error, APIError) or error.status_code not in (400, 413, 422):
        return None
    match = _BATCH_CAP_RE.search(error.message)
    if match is None:
        return None
    value = int(match.group(1) or match.group(2))
    return value if value >= 1 else None


def estimate_embedding_tokens(texts: Sequence[str]) -> int:
    """A rough token count for the rate limiter: ~4 characters a token."""
    return sum(len(text) for text in texts) // 4 + 1


# -- reading the answer ----------------------------------------------------------------------


def parse_embedding_answer(
    target: EmbeddingTarget,
    data: Any,
    count: int,
    options: EmbeddingOptions,
    meta: ResponseMeta,
) -> EmbeddingBatch:
    """Check and read one answer: exactly `count` vectors of finite floats, in input order.

    Raises `EmbeddingResponseError` for anything else; never a raw TypeError.
    """

    def bad(what: str) -> EmbeddingResponseError:
        return EmbeddingResponseError(
            what,
            status_code=meta.status_code,
            provider=meta.provider,
            request_id=meta.request_id,
        )

    usage: Usage | None = None
    served: str | None = None
    if isinstance(data, Mapping) and "data" in data:
        raw_vectors, usage, served = _read_openai(data, count, bad)
    elif isinstance(data, list):
        raw_vectors = data
        if count == 1 and data and not isinstance(data[0], list):
            raw_vectors = [data]  # one input answered with a bare vector (hf-inference, 1 string)
    else:
        raise bad(f"The server's answer is not embeddings: {type(data).__name__}")
    if len(raw_vectors) != count:
        raise bad(f"The server returned {len(raw_vectors)} vectors for {count} inputs")
    vectors = [_read_vector(v, i, bad) for i, v in enumerate(raw_vectors)]
    width = len(vectors[0])
    if any(len(v) != width for v in vectors):
        raise bad("The server returned vectors of different lengths")
    if options.dimensions is not None and width != options.dimensions:
        raise bad(f"Asked for {options.dimensions} dimensions, the server returned {width}")
    if options.normalize and target.style == "openai":
        vectors = [_unit(v) for v in vectors]
    return EmbeddingBatch(vectors, usage, served, meta, data)


def _read_openai(
    data: Mapping[str, Any], count: int, bad: Any
) -> tuple[list[Any], Usage | None, str | None]:
    items = data.get("data")
    if not isinstance(items, list):
        raise bad("The server's answer has no 'data' list")
    indexed: dict[int, Any] = {}
    ordered: list[Any] = []
    for item in items:
        if not isinstance(item, Mapping) or "embedding" not in item:
            raise bad("An item of 'data' has no 'embedding'")
        index = item.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            if index in indexed or not 0 <= index < count:
                raise bad(f"The server's answer has a bad or repeated index {index}")
            indexed[index] = item["embedding"]
        ordered.append(item["embedding"])
    if indexed and len(indexed) != len(ordered):
        raise bad("Only some items of 'data' carry an index")
    vectors = [indexed[i] for i in sorted(indexed)] if indexed else ordered
    model = data.get("model")
    return vectors, _read_usage(data.get("usage")), model if isinstance(model, str) else None


def _read_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, Mapping):
        return None
    prompt = raw.get("prompt_tokens")
    total = raw.get("total_tokens", prompt)
    if not isinstance(prompt, int) or not _is_count(prompt) or not _is_count(total):
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=0, total_tokens=total, raw=dict(raw))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _read_vector(raw: Any, position: int, bad: Any) -> list[float]:
    if isinstance(raw, str):  # encoding_format="base64": little-endian float32
        try:
            packed = base64.b64decode(raw, validate=True)
            values = list(struct.unpack(f"<{len(packed) // 4}f", packed))
        except (ValueError, struct.error):
            raise bad(f"Vector {position} is a string that is not base64 float32") from None
        if not all(math.isfinite(x) for x in values):
            raise bad(f"Vector {position} holds a value that is not finite (NaN or infinity)")
    elif isinstance(raw, list):
        if raw and isinstance(raw[0], list):
            raise bad(
                "The server returned token-level features (one vector per token), not one "
                "embedding per input: this model has no pooling. Use a sentence-embedding model."
            )
        # One C-speed pass finds what is not a number (sum fails) or not finite (the total is
        # not); only then is each value looked at. `float` makes JSON integers floats.
        try:
            total = sum(raw)
            if not math.isfinite(total) and not all(math.isfinite(x) for x in raw):
                raise bad(f"Vector {position} holds a value that is not finite (NaN or infinity)")
            values = list(map(float, raw))
        except (TypeError, OverflowError):
            raise bad(f"Vector {position} is not a list of finite numbers") from None
    else:
        raise bad(f"Vector {position} is not a list of numbers")
    if not values:
        raise bad(f"Vector {position} is empty")
    return values


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else vector


# -- putting batches together ----------------------------------------------------------------


def merge_batches(
    model: str, batches: Sequence[EmbeddingBatch], latency_s: float
) -> EmbeddingResult:
    """One result from the batches of a call, already in input order.

    Usage is summed when every batch reports it. The call's meta is the first batch's (ids,
    provider, headers, rate limit), with `attempts` and `failed_providers` added up over the
    batches and `latency_s` the wall time of the whole call.
    """
    vectors = [vector for batch in batches for vector in batch.vectors]
    width = len(vectors[0]) if vectors else 0
    if any(len(v) != width for v in vectors):
        raise EmbeddingResponseError(
            "Batches of one call returned vectors of different lengths (providers differ?)",
            provider=batches[0].meta.provider,
        )
    usages = [b.usage for b in batches]
    usage: Usage | None = None
    if usages and all(u is not None for u in usages):
        prompt = sum(u.prompt_tokens for u in usages if u is not None)
        total = sum(u.total_tokens for u in usages if u is not None)
        usage = Usage(prompt_tokens=prompt, completion_tokens=0, total_tokens=total)
    first = batches[0].meta
    meta = ResponseMeta()
    meta.copy_from(first)
    meta.latency_s = latency_s
    meta.cached = all(b.meta.cached for b in batches)
    meta.attempts = sum(b.meta.attempts for b in batches)
    meta.failed_providers = [e for b in batches for e in b.meta.failed_providers]
    return EmbeddingResult(
        embeddings=vectors,
        model=batches[0].model or model,
        provider=first.provider,
        usage=usage,
        meta=meta,
        batches=[b.meta for b in batches],
    )


# -- one call's state ------------------------------------------------------------------------


class EmbedCall:
    """One `embed` call: its checked inputs, the providers to try and what it learned.

    The client twins run its batches (with bounded concurrency) and ask it what to do when a
    provider fails; this object never does I/O.
    """

    __slots__ = (
        "batch_size",
        "chain",
        "deadline",
        "extra_headers",
        "limits",
        "max_concurrency",
        "model",
        "needs_lookup",
        "options",
        "single",
        "targets",
        "texts",
        "timeout",
    )

    def __init__(
        self,
        model: str,
        chain: tuple[str | None, ...],
        texts: list[str],
        single: bool,
        options: EmbeddingOptions,
        *,
        batch_size: int,
        max_concurrency: int,
        timeout: float | None,
        extra_headers: Mapping[str, str] | None,
    ) -> None:
        self.model = model
        self.chain = chain
        self.texts = texts
        self.single = single
        self.options = options
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.extra_headers = extra_headers
        self.targets: list[EmbeddingTarget] = []
        # hf-inference takes the Hub id as is: no mapping lookup needed for it alone.
        self.needs_lookup = any(p != "hf-inference" for p in chain)
        self.limits: dict[str | None, int] = {}
        self.deadline = math.inf  # set by `start`

    def start(self, budget: float, now: float) -> None:
        """Start the call's one deadline: every batch, retry, wait and provider within `budget`."""
        self.deadline = now + budget

    def time_left(self, now: float) -> float:
        """Seconds left for the next request; raises `APITimeoutError` once the budget is spent."""
        left = self.deadline - now
        if left <= 0:
            from hfproviders._errors import APITimeoutError

            raise APITimeoutError("The embed call used up its time budget (RetryPolicy.budget)")
        return left

    def slices(self) -> list[tuple[int, int]]:
        """The batches of the call, sized for the strictest provider of the chain."""
        caps = [self._cap(t) for t in self.targets]
        known = [c for c in caps if c is not None]
        return batch_slices(len(self.texts), self.batch_size, min(known) if known else None)

    def slices_for(self, target: EmbeddingTarget, start: int, stop: int) -> list[tuple[int, int]]:
        """`[start, stop)` split again for one provider (after it named a smaller limit)."""
        cap = self._cap(target)
        if cap is None or stop - start <= cap:
            return [(start, stop)]
        return [(a + start, b + start) for a, b in batch_slices(stop - start, cap, None)]

    def _cap(self, target: EmbeddingTarget) -> int | None:
        learned = self.limits.get(target.provider)
        if learned is not None and target.max_inputs is not None:
            return min(learned, target.max_inputs)
        return learned if learned is not None else target.max_inputs

    def learn_limit(self, target: EmbeddingTarget, error: HFProvidersError, sent: int) -> bool:
        """True when `error` refused a batch as too large and a smaller one should be tried."""
        limit = learned_max_inputs(error)
        if limit is None or limit >= sent:
            return False
        self.limits[target.provider] = limit
        return True

    def next_provider(
        self, error: HFProvidersError, failures: list[HFProvidersError], position: int
    ) -> None:
        """After provider `position` failed a batch: return to try the next one, else raise.

        A provider whose circuit is open (`ProvidersUnavailableError`, nothing sent) is skipped
        like a chat chain skips it; `ProvidersUnavailableError` is raised only when every
        provider was skipped. Skips stay in `failures` (see `tried`).
        """
        from hfproviders._errors import AllProvidersFailedError, ProvidersUnavailableError
        from hfproviders._retry import is_failover_eligible

        last = position + 1 >= len(self.targets)
        if isinstance(error, ProvidersUnavailableError):
            failures.append(error)
            if not last:
                return
            tried = self.tried(failures)
            if not tried:
                skipped = [f for f in failures if isinstance(f, ProvidersUnavailableError)]
                unavailable = [u for f in skipped for u in f.unavailable]
                raise ProvidersUnavailableError.for_providers(
                    self.model, unavailable, time.time()
                ) from error
            if len(tried) == 1:
                raise tried[0]
            raise AllProvidersFailedError(tried) from tried[-1]
        if is_failover_eligible(error) and not last:
            failures.append(error)
            return
        tried = self.tried(failures)
        if tried and is_failover_eligible(error):
            raise AllProvidersFailedError([*tried, error]) from error
        raise error

    @staticmethod
    def tried(failures: list[HFProvidersError]) -> list[HFProvidersError]:
        """The failures of providers that were tried (not those skipped for an open circuit)."""
        from hfproviders._errors import ProvidersUnavailableError

        return [f for f in failures if not isinstance(f, ProvidersUnavailableError)]

    def result(self, batches: list[EmbeddingBatch], latency_s: float) -> EmbeddingResult:
        """The call's result from its batches (in input order)."""
        return merge_batches(self.model, batches, latency_s)


def gather_outcomes(
    slices: Sequence[tuple[int, int]],
    outcomes: Sequence[list[EmbeddingBatch] | BaseException],
    count: int,
) -> list[EmbeddingBatch]:
    """The batches in input order; raise if any slice failed, keeping what the others returned.

    A failure that is not ours (a bug, KeyboardInterrupt) is re-raised as is. When every slice
    failed, the first slice's typed error is raised; when only some did, `PartialEmbeddingError`
    carries every vector that arrived.
    """
    errors: dict[int, HFProvidersError] = {}
    for (start, _), outcome in zip(slices, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, HFProvidersError):
                raise outcome
            errors[start] = outcome
    if not errors:
        return [batch for outcome in outcomes if isinstance(outcome, list) for batch in outcome]
    if len(errors) == len(slices):
        raise errors[slices[0][0]]
    vectors: list[list[float] | None] = [None] * count
    for (start, _), outcome in zip(slices, outcomes, strict=True):
        if isinstance(outcome, list):
            position = start
            for batch in outcome:
                for vector in batch.vectors:
                    vectors[position] = vector
                    position += 1
    raise PartialEmbeddingError(vectors, errors)


# -- a call from the client's configuration ---------------------------------------------------


def router_root(config: ClientConfig) -> str:
    """The router's root (`https://router.huggingface.co`), under which providers have routes."""
    base = config.base_url
    return base[: -len("/v1")] if base.endswith("/v1") else base


def new_embed_call(
    config: ClientConfig,
    model: str,
    inputs: str | Sequence[str],
    provider: str | Sequence[str] | None,
    dimensions: Any,
    normalize: Any,
    truncate: Any,
    params: dict[str, Any],
) -> EmbedCall:
    """Check an `embed` call's arguments (before any I/O) and make its `EmbedCall`.

    `params` may hold `batch_size`, `max_concurrency`, `timeout`, `extra_headers`; the rest are
    body fields. On a custom `base_url` the target is known at once; on the router it is too
    for hf-inference alone, else `choose_targets` picks them from the Hub's mapping.
    """
    from hfproviders._routing import resolve_chain

    batch_size = params.pop("batch_size", None)
    concurrency = params.pop("max_concurrency", None)
    timeout = params.pop("timeout", None)
    extra_headers = params.pop("extra_headers", None)
    texts, single = validate_embedding_inputs(inputs, config.max_input_chars)
    options = validate_embedding_options(dimensions, normalize, truncate, params)
    router = config.is_router
    base, chain = resolve_chain(model, provider or config.provider, router=router)
    call = EmbedCall(
        base,
        chain,
        texts,
        single,
        options,
        batch_size=check_batch_size(DEFAULT_EMBED_BATCH_SIZE if batch_size is None else batch_size),
        max_concurrency=check_batch_size(
            4 if concurrency is None else concurrency, "max_concurrency"
        ),
        timeout=timeout,
        extra_headers=extra_headers,
    )
    if not router:
        call.targets = [endpoint_target(config.base_url, base)]
        call.needs_lookup = False
    elif not call.needs_lookup:
        call.targets = router_targets(base, chain, (), router_root(config))
    return call


def embed_budget(config: ClientConfig, call: EmbedCall) -> float:
    """Seconds for the whole embed call: `RetryPolicy.budget`, else the timeout (as for chat)."""
    budget = config.retry.budget
    return float(budget if budget is not None else call.timeout or config.timeout)


def choose_targets(config: ClientConfig, call: EmbedCall, availability: ModelAvailability) -> None:
    """Pick the providers to try from the Hub's answer (see `router_targets`)."""
    if availability.exists is False:
        from hfproviders._errors import ModelNotFoundError

        raise ModelNotFoundError(
            availability.error or f"The Hub does not know the model {call.model!r}",
            code="model_not_found",
        )
    call.targets = router_targets(
        call.model, call.chain, availability.providers, router_root(config)
    )


# -- on the call pipeline: one `Request` per batch and provider --------------------------------


class EmbeddingRequest(Request):
    """A `Request` for one batch on one provider: it knows how to read its answer."""

    __slots__ = ("count", "options", "target")
    target: EmbeddingTarget
    count: int
    options: EmbeddingOptions


def _parse_batch(request: Request, data: Any, meta: ResponseMeta) -> EmbeddingBatch:
    assert isinstance(request, EmbeddingRequest)
    return parse_embedding_answer(request.target, data, request.count, request.options, meta)


#: The request kind of a batch: inference (rate limited, cached, traced as `embeddings`).
EMBEDDINGS = RequestKind(
    "embeddings", parse=_parse_batch, decoder=None, inference=True, describe="list of embeddings"
)


def embedding_request(
    config: ClientConfig,
    call: EmbedCall,
    target: EmbeddingTarget,
    start: int,
    stop: int,
    now: float,
) -> EmbeddingRequest:
    """The request for inputs `[start, stop)` on one provider: a `Call` runs it like any other.

    Its timeout is at most what is left of the embed call's one deadline.
    """
    texts = call.texts[start:stop]
    body = embedding_body(target, texts, call.options)
    request = EmbeddingRequest(
        EMBEDDINGS,
        call.model,
        (target.provider,),
        target.url,
        body,
        config.headers(stream=False, extra=call.extra_headers),
        timeout=min(call.timeout or config.timeout, call.time_left(now)),
        secrets=config.secrets(),
    )
    request.target, request.count, request.options = target, stop - start, call.options
    if config.limiter is not None:
        request.token_estimate = estimate_embedding_tokens(texts)
    if config.cache is not None:
        from hfproviders._cache import cache_key

        request.cache_key = cache_key(
            {
                "base_url": config.base_url,
                "kind": "embed",
                "model": call.model,
                "provider": target.provider,
                "url": target.url,
                "body": body,
            }
        )
    return request
