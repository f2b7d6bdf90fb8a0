"""Discovery: /v1/models parsing, capability routing helpers, the Hub mapping, and the TTL cache.

The router and Hub answers replay from the hand-written cassettes in cassettes/core/discovery/,
through both `HFClient` and `AsyncHFClient` on `httpx.MockTransport` (their `list_models`,
`model_info` and `model_providers`), so the Hub lookups are checked on the clients' own transport.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import yaml

import hfproviders._config
from hfproviders import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    MissingTokenError,
    ServerError,
)
from hfproviders._catalog import (
    DiscoveryCache,
    ModelInfo,
    ProviderInfo,
    find_model,
    parse_models_response,
)
from hfproviders._hub import (
    HUB_EXPAND,
    ModelAvailability,
    availability_after_access_check,
    availability_from_hub_error,
    availability_from_hub_json,
    classify_hub_error,
    hub_auth_check_url,
    hub_model_info_request,
    needs_access_check,
    parse_provider_mapping,
)
from hfproviders._routing import (
    check_capabilities,
    context_length_for,
    pick_provider,
    providers_supporting,
)
from tests.conftest import FAKE_TOKEN
from tests.core.conftest import Harness

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "core" / "discovery"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def interactions(name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((CASSETTES / name).read_text())
    result: list[dict[str, Any]] = data["interactions"]
    return result


def response_json(name: str, index: int = 0) -> Any:
    return json.loads(interactions(name)[index]["response"]["body"]["string"])


@pytest.fixture(scope="module")
def models() -> list[ModelInfo]:
    return parse_models_response(response_json("router_models.yaml"))


@pytest.fixture
def llama(models: list[ModelInfo]) -> ModelInfo:
    found = find_model(models, LLAMA)
    assert found is not None
    return found


# --- /v1/models parsing ------------------------------------------------------------------------


def test_models_list_parses_every_field(models: list[ModelInfo], llama: ModelInfo) -> None:
    assert [m.id for m in models] == [
        "meta-llama/Llama-3.1-8B-Instruct",
        "Qwen/Qwen2.5-VL-7B-Instruct",
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
        "zai-org/GLM-4.6",
    ]
    assert llama.owned_by == "meta-llama"
    assert llama.created == 1721606400
    assert llama.input_modalities == ("text",)
    assert [p.provider for p in llama.providers] == [
        "cerebras",
        "groq",
        "novita",
        "nscale",
        "featherless-ai",
    ]
    assert llama.providers[0] == ProviderInfo(
        provider="cerebras",
        status="live",
        context_length=32768,
        pricing_input=0.1,
        pricing_output=0.1,
        is_free=None,
        supports_tools=True,
        supports_structured_output=False,
        first_token_latency_ms=180.0,
        throughput=2100.5,
        is_model_author=False,
    )


def test_missing_optional_fields_read_as_unknown(models: list[ModelInfo], llama: ModelInfo) -> None:
    featherless = llama.provider("featherless-ai")
    assert featherless == ProviderInfo(
        provider="featherless-ai", status="live", is_model_author=False
    )
    deepseek = models[2]
    assert deepseek.input_modalities == ()
    assert deepseek.output_modalities == ()
    assert [(p.provider, p.status) for p in deepseek.providers] == [("novita", "error")]
    vision = models[1]
    assert vision.input_modalities == ("text", "image")
    free = vision.provider("hf-inference")
    assert free is not None
    assert free.is_free is True
    assert free.pricing_output is None


def test_single_model_object_shape() -> None:
    [model] = parse_models_response(response_json("router_model_single.yaml"))
    assert model.id == "zai-org/GLM-4.6"
    assert [p.provider for p in model.providers] == ["zai-org", "novita"]
    assert model.providers[0].is_model_author is True


def test_bare_list_shape_is_accepted() -> None:
    parsed = parse_models_response([{"id": "a/b", "providers": []}, {"no": "id"}])
    assert [m.id for m in parsed] == ["a/b"]


@pytest.mark.parametrize(
    "data",
    [
        {"error": "Invalid credentials in Authorization header"},
        "<html>502</html>",
        None,
        {"data": "not a list"},
    ],
)
def test_unrecognised_shapes_raise_instead_of_meaning_no_models(data: object) -> None:
    with pytest.raises(ValueError, match="unrecognised"):
        parse_models_response(data)


def test_wrong_types_are_unknown_not_crashes() -> None:
    [model] = parse_models_response(
        {
            "data": [
                {
                    "id": "a/b",
                    "created": "yesterday",
                    "architecture": {"input_modalities": "text"},
                    "providers": [
                        {
                            "provider": "p1",
                            "status": "live",
                            "context_length": True,
                            "pricing": {"input": "0.5", "output": math.nan},
                            "supports_tools": "yes",
                            "throughput": 8192.0,
                        },
                        {"status": "live"},
                        "garbage",
                        {"provider": "p2", "context_length": 8192.0, "pricing": [1, 2]},
                    ],
                }
            ]
        }
    )
    assert model.created is None
    assert model.input_modalities == ()
    p1, p2 = model.providers
    assert p1.context_length is None  # a bool is not a length
    assert p1.pricing_input == 0.5
    assert p1.pricing_output is None
    assert p1.supports_tools is None
    assert p1.throughput == 8192.0
    assert p2.status == "unknown"
    assert p2.context_length == 8192
    assert p2.pricing_input is None


def test_cost_from_pricing(llama: ModelInfo) -> None:
    groq = llama.provider("GROQ")  # case-insensitive
    assert groq is not None
    assert groq.cost_usd(1_000_000, 500_000) == pytest.approx(0.05 + 0.04)
    assert ProviderInfo("x", "live", is_free=True, pricing_output=9.0).cost_usd(10, 10) == 0.0
    featherless = llama.provider("featherless-ai")
    assert featherless is not None
    assert featherless.cost_usd(10, 10) is None


def test_find_model_ignores_suffix_and_case(models: list[ModelInfo]) -> None:
    found = find_model(models, "meta-llama/llama-3.1-8b-instruct:groq")
    assert found is not None
    assert found.id == "meta-llama/Llama-3.1-8B-Instruct"
    assert find_model(models, "nobody/nothing") is None


def test_to_dict_is_json_ready(llama: ModelInfo) -> None:
    data = json.loads(json.dumps(llama.to_dict()))
    assert data["providers"][1]["provider"] == "groq"
    assert data["input_modalities"] == ["text"]


# --- capability-aware routing helpers --------------------------------------------------------


def test_providers_supporting_tools_excludes_error_false_and_unknown(llama: ModelInfo) -> None:
    names = [p.provider for p in providers_supporting(llama, tools=True)]
    assert names == ["cerebras", "groq"]
    with_unknown = providers_supporting(llama, tools=True, include_unknown=True)
    assert [p.provider for p in with_unknown] == ["cerebras", "groq", "featherless-ai"]
    not_live = providers_supporting(llama, tools=True, live_only=False)
    assert [p.provider for p in not_live] == ["cerebras", "groq", "nscale"]
    assert [p.provider for p in providers_supporting(llama, structured_output=True)] == ["groq"]
    assert len(providers_supporting(llama)) == 4  # every live provider


@pytest.mark.parametrize(
    ("policy", "tools", "structured", "expected"),
    [
        ("fastest", False, False, "cerebras"),  # highest throughput
        ("fastest", False, True, "groq"),
        ("cheapest", False, False, "novita"),  # nscale is cheaper but in error
        ("cheapest", True, False, "groq"),
        ("preferred", False, False, "cerebras"),  # router order without a preference
    ],
)
def test_pick_provider_policies(
    llama: ModelInfo, policy: Any, tools: bool, structured: bool, expected: str
) -> None:
    chosen = pick_provider(llama, policy, requires_tools=tools, requires_structured=structured)
    assert chosen is not None
    assert chosen.provider == expected


def test_pick_provider_preference_and_free(models: list[ModelInfo], llama: ModelInfo) -> None:
    chosen = pick_provider(llama, "preferred", preference=["nscale", "Novita", "groq"])
    assert chosen is not None
    assert chosen.provider == "novita"
    chosen = pick_provider(llama, "preferred", requires_tools=True, preference=["novita", "groq"])
    assert chosen is not None
    assert chosen.provider == "groq"
    vision = models[1]
    cheapest = pick_provider(vision, "cheapest")
    assert cheapest is not None
    assert cheapest.provider == "hf-inference"


def test_pick_provider_ties_and_nothing_to_pick(models: list[ModelInfo]) -> None:
    tie = ModelInfo(
        "a/b",
        providers=(
            ProviderInfo("slow-start", "live", throughput=100, first_token_latency_ms=900),
            ProviderInfo("quick-start", "live", throughput=100, first_token_latency_ms=200),
        ),
    )
    fastest = pick_provider(tie, "fastest")
    assert fastest is not None
    assert fastest.provider == "quick-start"
    assert pick_provider(models[2], "fastest") is None  # only an `error` provider
    with pytest.raises(ValueError, match="policy"):
        pick_provider(tie, "random")  # type: ignore[arg-type]


def test_context_length_for(llama: ModelInfo) -> None:
    assert context_length_for(llama, "groq") == 131072
    assert context_length_for(llama, None) == 16384  # the safe minimum among live ones
    assert context_length_for(llama, "unknown-provider") is None
    only_error = ModelInfo("a/b", providers=(ProviderInfo("x", "error", context_length=4096),))
    assert context_length_for(only_error) == 4096
    assert context_length_for(ModelInfo("a/b")) is None


def test_check_capabilities_names_providers_that_work(llama: ModelInfo) -> None:
    mismatch = check_capabilities(llama, "novita", requires_tools=True)
    assert mismatch is not None
    assert mismatch.missing == ("tool calling",)
    assert mismatch.alternatives == ("cerebras", "groq")
    assert "novita" in mismatch.message
    assert "cerebras, groq" in mismatch.message
    both = check_capabilities(llama, "cerebras", requires_tools=True, requires_structured=True)
    assert both is not None
    assert both.missing == ("structured output",)
    assert both.alternatives == ("groq",)


def test_check_capabilities_only_flags_known_gaps(llama: ModelInfo) -> None:
    assert check_capabilities(llama, "groq", requires_tools=True, requires_structured=True) is None
    assert check_capabilities(llama, "featherless-ai", requires_tools=True) is None  # unknown
    assert check_capabilities(llama, "together", requires_tools=True) is None  # not listed
    assert check_capabilities(llama, "novita") is None  # nothing required
    lonely = ModelInfo("a/b", providers=(ProviderInfo("x", "live", supports_tools=False),))
    mismatch = check_capabilities(lonely, "x", requires_tools=True)
    assert mismatch is not None
    assert "No live provider" in mismatch.message


# --- Hub mapping parsing ---------------------------------------------------------------------


def test_parse_provider_mapping_dict_form() -> None:
    mappings = parse_provider_mapping(response_json("hub_mapping_dict.yaml"))
    assert [(m.provider, m.status, m.task) for m in mappings] == [
        ("nscale", "live", "conversational"),
        ("featherless-ai", "staging", "conversational"),
        ("novita", "error", "conversational"),
    ]
    assert mappings[0].mapping_type == "single-model"
    assert mappings[2].provider_model_id == "microsoft/phi-4-instruct"
    assert mappings[0].is_model_author is False


def test_parse_provider_mapping_legacy_list_form() -> None:
    data = response_json("hub_mapping_list.yaml")["inferenceProviderMapping"]
    mappings = parse_provider_mapping(data)
    assert [(m.provider, m.status, m.task) for m in mappings] == [
        ("featherless-ai", "live", "conversational"),
        ("hf-inference", "error", "text-generation"),
    ]


@pytest.mark.parametrize("data", [None, "x", 3, {"p": "not an object"}, [1, {"status": "live"}]])
def test_parse_provider_mapping_garbage_is_empty(data: object) -> None:
    assert parse_provider_mapping(data) == []


# --- sans-I/O Hub pieces ---------------------------------------------------------------------


def test_hub_requests_strip_suffix() -> None:
    url, params = hub_model_info_request("org/model:groq", "https://hub.example/")
    assert url == "https://hub.example/api/models/org/model"
    assert params == [("expand[]", name) for name in HUB_EXPAND]
    assert (
        hub_auth_check_url("org/model:x")
        == "https://huggingface.co/api/models/org/model/auth-check"
    )


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (403, {"X-Error-Code": "GatedRepo"}, "gated"),
        (401, {"X-Error-Code": "GatedRepo"}, "gated"),
        (404, {"X-Error-Code": "RepoNotFound"}, "not_found"),
        (404, {}, "not_found"),
        (401, {"x-error-code": "RepoNotFound"}, "not_found"),
        (401, {"X-Error-Message": "Invalid credentials in Authorization header"}, "unauthorized"),
        (401, {}, "not_found"),
        (403, {}, "forbidden"),
        (403, {"X-Error-Code": "DisabledRepo"}, "disabled"),
        (451, {}, "disabled"),
        (500, {}, None),
        (429, {}, None),
    ],
)
def test_classify_hub_error(status: int, headers: dict[str, str], expected: str | None) -> None:
    assert classify_hub_error(status, headers) == expected


def test_availability_from_hub_error_fields() -> None:
    found = availability_from_hub_error("a/b:x", 404, {}, token_given=False)
    assert found is not None
    assert (found.model, found.exists, found.error_code) == ("a/b", False, "not_found")
    assert found.error is not None
    assert "No token was sent" in found.error
    assert availability_from_hub_error("a/b", 503, {}, token_given=True) is None


def test_availability_from_hub_json_access_rules() -> None:
    public = {"id": "a/b", "gated": False, "inferenceProviderMapping": {}}
    gated = {"id": "a/b", "gated": "auto"}
    assert availability_from_hub_json("a/b", public, token_given=True).accessible is True
    assert availability_from_hub_json("a/b", public, token_given=False).accessible is None
    denied = availability_from_hub_json("a/b", gated, token_given=True, access_granted=False)
    assert (denied.gate_mode, denied.accessible, denied.error_code) == ("auto", False, "gated")
    unknown = availability_from_hub_json("a/b", gated, token_given=True)
    assert unknown.accessible is None
    assert unknown.error is None


def test_access_check_pieces() -> None:
    gated = availability_from_hub_json("a/b", {"id": "a/b", "gated": "manual"}, token_given=True)
    public = availability_from_hub_json("a/b", {"id": "a/b", "gated": False}, token_given=True)
    assert needs_access_check(gated, token_given=True)
    assert not needs_access_check(gated, token_given=False)
    assert not needs_access_check(public, token_given=True)
    granted = availability_after_access_check(gated, 200, {})
    assert granted is not None
    assert granted.accessible is True
    refused = availability_after_access_check(gated, 403, {"X-Error-Code": "GatedRepo"})
    assert refused is not None
    assert (refused.accessible, refused.error_code) == (False, "gated")
    hidden = availability_after_access_check(gated, 404, {"X-Error-Code": "RepoNotFound"})
    assert hidden is not None
    assert hidden.error_code == "gated"  # a model we just saw, hidden from this token: the gate
    assert availability_after_access_check(gated, 503, {}) is None


# --- the clients' discovery calls, replayed from the cassettes ---------------------------------


class CassetteReplay(Harness):
    """One twin (sync or async) on MockTransport, answering each request from a cassette.

    A request must match a recorded one exactly (method, URL and query); anything else fails the
    test, so the cassettes also pin down what the clients send.
    """

    def __init__(self, mode: str) -> None:
        super().__init__(mode)
        self.interactions: list[dict[str, Any]] = []
        self.failure: Exception | None = None

    def use(self, cassette: str) -> CassetteReplay:
        self.interactions = interactions(cassette)
        return self

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failure is not None:
            raise self.failure
        return recorded_response(self.interactions, request)

    async def run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a client method (awaited on the async twin)."""
        return await settle(getattr(self.client, method)(*args, **kwargs))


async def settle(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def recorded_response(recorded: list[dict[str, Any]], request: httpx.Request) -> httpx.Response:
    """The recorded answer to `request` (same method, URL and query); fails the test if none."""
    for item in recorded:
        if item["request"]["method"] == request.method and same_url(
            item["request"]["uri"], request.url
        ):
            response = item["response"]
            headers = [(k, v) for k, values in response["headers"].items() for v in values]
            return httpx.Response(
                response["status"]["code"],
                headers=headers,
                content=response["body"]["string"].encode(),
            )
    raise AssertionError(f"no recorded interaction for {request.method} {request.url}")


def same_url(recorded: str, sent: httpx.URL) -> bool:
    parts = urlsplit(recorded)
    return (parts.scheme, parts.netloc, parts.path) == (sent.scheme, sent.host, sent.path) and (
        sorted(parse_qsl(parts.query)) == sorted(sent.params.multi_items())
    )


@pytest.fixture(params=["sync", "async"])
async def replay(request: pytest.FixtureRequest) -> AsyncIterator[CassetteReplay]:
    """The replay, once per twin; the client is closed afterwards."""
    harness = CassetteReplay(request.param)
    yield harness
    await harness.close()


@pytest.fixture
def no_stored_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the machine has (HF_TOKEN, `hf auth login`), the client finds no token."""
    monkeypatch.setattr(hfproviders._config, "lookup_token", lambda: None)


async def providers(
    replay: CassetteReplay, cassette: str, model: str, **client: Any
) -> ModelAvailability:
    replay.use(cassette).make(**client)
    result: ModelAvailability = await replay.run("model_providers", model)
    return result


async def test_hub_public_model_with_token(replay: CassetteReplay) -> None:
    result = await providers(replay, "hub_mapping_dict.yaml", "microsoft/phi-4:nscale")
    assert (result.model, result.exists, result.gated, result.accessible) == (
        "microsoft/phi-4",
        True,
        False,
        True,
    )
    assert result.pipeline_tag == "text-generation"
    assert [(p.provider, p.status) for p in result.providers] == [
        ("nscale", "live"),
        ("featherless-ai", "staging"),
        ("novita", "error"),
    ]
    assert [p.provider for p in result.live_providers] == ["nscale"]
    assert result.providers[0].is_model_author is False
    assert result.providers[0].mapping_type == "single-model"
    assert result.error is None
    [request] = replay.requests  # a public model needs no access check
    assert request.url.host == "huggingface.co"
    assert request.headers["authorization"] == f"Bearer {FAKE_TOKEN}"
    assert request.headers["user-agent"].startswith("hfproviders/")
    assert request.url.params.get_list("expand[]") == list(HUB_EXPAND)


async def test_hub_lookup_without_token_sends_no_credentials(
    replay: CassetteReplay, no_stored_token: None
) -> None:
    result = await providers(replay, "hub_gated_granted.yaml", "google/gemma-2-2b-it", api_key=None)
    assert (result.exists, result.gated, result.accessible) == (True, True, None)
    assert result.error is None
    [request] = replay.requests  # no access check without a token: it could only say "no"
    assert request.url.path == "/api/models/google/gemma-2-2b-it"
    assert "authorization" not in request.headers


async def test_hub_never_gets_a_key_meant_for_another_server(
    replay: CassetteReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client for a local server carries that server's key; the Hub gets the user's HF token.
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    await providers(
        replay,
        "hub_mapping_dict.yaml",
        "microsoft/phi-4",
        api_key="sk-local-FAKE-key-do-not-use",
        base_url="http://127.0.0.1:8080/v1",
    )
    [request] = replay.requests
    assert request.url.host == "huggingface.co"
    assert request.headers["authorization"] == f"Bearer {FAKE_TOKEN}"


async def test_hub_legacy_list_mapping(replay: CassetteReplay) -> None:
    result = await providers(replay, "hub_mapping_list.yaml", "HuggingFaceH4/zephyr-7b-beta")
    assert [(p.provider, p.status, p.task) for p in result.providers] == [
        ("featherless-ai", "live", "conversational"),
        ("hf-inference", "error", "text-generation"),
    ]


async def test_hub_gated_and_granted(replay: CassetteReplay) -> None:
    result = await providers(replay, "hub_gated_granted.yaml", "google/gemma-2-2b-it")
    assert (result.gated, result.gate_mode, result.accessible) == (True, "manual", True)
    lookup, check = replay.requests
    assert lookup.url.path == "/api/models/google/gemma-2-2b-it"
    assert check.url.path == "/api/models/google/gemma-2-2b-it/auth-check"
    assert check.headers["authorization"] == f"Bearer {FAKE_TOKEN}"


async def test_hub_gated_and_denied_keeps_the_mapping(replay: CassetteReplay) -> None:
    model = "meta-llama/Meta-Llama-3.1-8B-Instruct"
    result = await providers(replay, "hub_gated_denied.yaml", model)
    assert (result.exists, result.gated, result.accessible, result.error_code) == (
        True,
        True,
        False,
        "gated",
    )
    assert result.error is not None
    assert f"https://huggingface.co/{model}" in result.error
    assert [p.status for p in result.providers] == ["live", "live", "error"]
    assert len(replay.requests) == 2  # a 403 from the access check is an answer, not retried


async def test_hub_not_found(replay: CassetteReplay) -> None:
    result = await providers(replay, "hub_not_found.yaml", "no-such-org/no-such-model")
    assert (result.exists, result.accessible, result.error_code) == (False, False, "not_found")
    assert result.providers == ()
    assert result.error is not None
    assert "No token was sent" not in result.error


async def test_hub_not_found_anonymously(replay: CassetteReplay, no_stored_token: None) -> None:
    result = await providers(
        replay, "hub_not_found_anonymous.yaml", "no-such-org/no-such-model", api_key=None
    )
    # The Hub answers 401 to anonymous callers for missing, private and gated repos alike.
    assert (result.exists, result.error_code) == (False, "not_found")
    assert result.error is not None
    assert "No token was sent" in result.error
    assert "authorization" not in replay.requests[0].headers


async def test_hub_invalid_token(replay: CassetteReplay) -> None:
    result = await providers(replay, "hub_invalid_token.yaml", "microsoft/phi-4")
    assert (result.exists, result.accessible, result.error_code) == (None, False, "unauthorized")
    assert result.error is not None
    assert "settings/tokens" in result.error
    assert len(replay.requests) == 1


async def test_hub_model_without_providers(replay: CassetteReplay) -> None:
    result = await providers(replay, "hub_no_providers.yaml", "tiiuae/falcon-7b-instruct")
    assert (result.exists, result.providers, result.error) == (True, (), None)


async def test_hub_server_error_raises_typed_error_after_retries(replay: CassetteReplay) -> None:
    replay.use("hub_server_error.yaml").make()
    with pytest.raises(ServerError) as info:
        await replay.run("model_providers", "microsoft/phi-4")
    assert info.value.status_code == 500
    assert info.value.request_id == "hwHub500"
    assert len(replay.requests) == 3  # the client's retry policy applies to the Hub too
    assert len(replay.waits) == 2
    with pytest.raises(ServerError):  # a failure is never cached
        await replay.run("model_providers", "microsoft/phi-4")
    assert len(replay.requests) == 6


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ConnectError("Name or service not known"), APIConnectionError),
        (httpx.ReadTimeout("timed out"), APITimeoutError),
    ],
)
async def test_hub_unreachable_raises_connection_errors(
    replay: CassetteReplay, failure: Exception, expected: type[Exception]
) -> None:
    replay.use("hub_mapping_dict.yaml").make(max_retries=0)
    replay.failure = failure
    with pytest.raises(expected, match="huggingface.co"):
        await replay.run("model_providers", "microsoft/phi-4")


async def test_hub_answers_are_cached_per_model(replay: CassetteReplay) -> None:
    first = await providers(replay, "hub_gated_granted.yaml", "google/gemma-2-2b-it")
    again = await replay.run("model_providers", "google/gemma-2-2b-it:nscale")
    assert again == first
    assert len(replay.requests) == 2  # the lookup and the access check, once
    refreshed = await replay.run("model_providers", "google/gemma-2-2b-it", refresh=True)
    assert refreshed == first
    assert len(replay.requests) == 4


async def test_list_models_replays_the_catalogue(replay: CassetteReplay) -> None:
    replay.use("router_models.yaml").make()
    assert replay.client.cached_model_info(LLAMA) is None  # nothing loaded, nothing sent
    assert replay.requests == []
    listed = await replay.run("list_models")
    assert listed == parse_models_response(response_json("router_models.yaml"))
    [request] = replay.requests
    assert request.headers["authorization"] == f"Bearer {FAKE_TOKEN}"
    assert request.headers["accept"] == "application/json"
    info = await replay.run("model_info", "meta-llama/llama-3.1-8b-instruct:groq")
    assert info is not None
    assert info.id == LLAMA
    assert replay.client.cached_model_info(LLAMA) == info
    assert await replay.run("model_info", "nobody/nothing") is None
    assert len(replay.requests) == 1  # all of that from the cached catalogue
    await replay.run("list_models", refresh=True)
    assert len(replay.requests) == 2


async def test_list_models_needs_a_token(replay: CassetteReplay, no_stored_token: None) -> None:
    replay.use("router_models.yaml").make(api_key=None)
    with pytest.raises(MissingTokenError):
        await replay.run("list_models")
    assert replay.requests == []


async def test_list_models_refuses_an_answer_that_is_not_a_catalogue(
    replay: CassetteReplay,
) -> None:
    # A 200 with an error object must not read as "no models", nor be cached.
    plain = Harness(replay.mode).queue(
        httpx.Response(200, json={"error": "Invalid credentials in Authorization header"}),
        httpx.Response(200, json=response_json("router_models.yaml")),
    )
    plain.make()
    try:
        with pytest.raises(APIError, match="Unexpected answer"):
            await settle(plain.client.list_models())
        assert len(await settle(plain.client.list_models())) == 4
    finally:
        await plain.close()


# --- DiscoveryCache --------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_models_expire_after_ttl(models: list[ModelInfo]) -> None:
    clock = FakeClock()
    cache = DiscoveryCache(ttl_s=60, clock=clock)
    base = "https://router.huggingface.co/v1"
    assert cache.get_models(base) is None
    cache.put_models(base + "/", models)
    cached = cache.get_models(base)
    assert cached == models
    assert cached is not None
    cached.clear()  # a caller's mutation never reaches the cache
    clock.now += 59.9
    assert cache.get_models(base) == models
    clock.now += 0.1
    assert cache.get_models(base) is None
    assert cache.get_models("http://127.0.0.1:8080/v1") is None


def test_cache_availability_by_model_without_suffix() -> None:
    clock = FakeClock()
    cache = DiscoveryCache(ttl_s=10, clock=clock)
    availability = ModelAvailability(model="a/b", exists=True)
    cache.put_availability(availability)
    assert cache.get_availability("a/b:groq") is availability
    cache.clear()
    assert cache.get_availability("a/b") is None


def test_cache_rejects_non_positive_ttl() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        DiscoveryCache(ttl_s=0)
