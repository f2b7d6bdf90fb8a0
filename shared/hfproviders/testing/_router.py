"""The fake router's brain: routes, providers, scripts, faults, and the record of every request.

`FakeRouter.handle(request)` turns one received request into a `Plan` (sans-I/O); the loopback
server (`FakeRouter.serve()`) and the in-process httpx transport (`FakeRouter.transport()`) play
plans on real sockets or in memory. Routes served, as the real ones are (WIRE.md §1):

- `POST /v1/chat/completions` (model `org/name[:provider|:fastest|:cheapest|:preferred]`),
  `POST /{provider}/…/chat/completions` (the provider's own model id), and
  `POST /hf-inference/models/{id}/v1/chat/completions`; streamed and not;
- `GET /v1/models` and `GET /v1/models/{id}` (the catalogue);
- `GET /api/models/{id}` (the Hub's model info with `inferenceProviderMapping`) and
  `GET /api/models/{id}/auth-check`;
- text-generation (TGI): `POST /hf-inference/models/{id}`, and `POST /`, `/generate`,
  `/generate_stream` of a TGI server; `GET /info`;
- embeddings: `POST /hf-inference/models/{id}/pipeline/feature-extraction` and the
  OpenAI-style `POST /{provider}/v1/embeddings` (and `/v1/embeddings`);
- `GET /__fake/stats`, `GET /__fake/requests`, `POST /__fake/reset`: control, never recorded.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from hfproviders.testing._auto import auto_reply, message_text
from hfproviders.testing._catalogue import FakeModel, default_models
from hfproviders.testing._render import (
    JSON_TYPE,
    ChatContext,
    Plan,
    chat_plan,
    digest,
    embeddings_body,
    fault_plan,
    prompt_of,
    request_id,
    status_plan,
    text_generation_plan,
)
from hfproviders.testing._script import (
    Fault,
    Provider,
    Reply,
    Step,
    parse_step,
)
from hfproviders.testing._wire import dumps, router_headers

if TYPE_CHECKING:
    from hfproviders.testing._server import LoopbackServer

__all__ = ["MIX", "POLICIES", "FakeModel", "FakeRouter", "RecordedRequest", "Rule"]

POLICIES = ("fastest", "cheapest", "preferred", "auto")
MIX = ["ok"] * 16 + ["429ms:20", "503:0.01", "502", "reset"]
"""The `x-fake-steps: mix` draw: about 20 % faults, picked by a hash of (key, attempt)."""


@dataclass
class RecordedRequest:
    """One request the fake router received, and what it made of it.

    `status` and `request_id` are those of the answer (None when none was sent, e.g. a reset).
    `left_after_s` is set (by the loopback server) when the client went away while the answer
    was still being prepared, `answer_s` seconds long: it was never sent.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at_s: float = 0.0
    kind: str = ""
    model: str | None = None
    provider: str | None = None
    status: int | None = None
    request_id: str | None = None
    rule: Rule | None = field(default=None, repr=False, compare=False)
    left_after_s: float | None = None
    answer_s: float = 0.0

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def url(self) -> str:
        """Path and query."""
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass
class Rule:
    """Scripted steps for the requests that match; see `FakeRouter.on`."""

    model: str | None = None
    provider: str | None = None
    kind: str | None = None
    steps: list[Step] = field(default_factory=list)
    repeat_last: bool = True
    used: int = 0
    decide: Callable[[RecordedRequest], Step | None] | None = None

    def matches(self, kind: str, model: str | None, provider: str | None) -> bool:
        """Whether this rule applies to a request (and still has steps to play)."""
        if self.decide is None and (
            not self.steps or (not self.repeat_last and self.used >= len(self.steps))
        ):
            return False
        return (
            (self.kind is None or self.kind == kind)
            and (self.model is None or self.model == model)
            and (self.provider is None or self.provider == provider)
        )

    def next_step(self, request: RecordedRequest) -> Step | None:
        """The step for this request (the last one repeats when `repeat_last`)."""
        self.used += 1
        if self.decide is not None:
            return self.decide(request)
        return self.steps[min(self.used - 1, len(self.steps) - 1)]

    def peek(self, request: RecordedRequest) -> Step | None:
        """The step this rule would play now, without playing it (None for a sequence)."""
        if self.decide is not None:
            return self.decide(request)
        return self.steps[-1] if len(self.steps) == 1 and self.repeat_last else None

    def respond(self, *steps: Step) -> Rule:
        """Play `steps` in order, one per matching request; the last one then repeats."""
        self.steps, self.repeat_last, self.used, self.decide = list(steps), True, 0, None
        return self

    def respond_once(self, *steps: Step) -> Rule:
        """Play `steps` in order, once each; afterwards the rule no longer applies."""
        self.steps, self.repeat_last, self.used, self.decide = list(steps), False, 0, None
        return self

    def respond_with(self, decide: Callable[[RecordedRequest], Step | None]) -> Rule:
        """Ask `decide(request)` for each matching request's step (None: the default answer)."""
        self.steps, self.used, self.decide = [], 0, decide
        return self


class FakeRouter:
    """A scriptable stand-in for router.huggingface.co (and the Hub's model lookups).

    With no script it answers like a capable model (tool calls, JSON schemas, answers from tool
    results). `on(...)` scripts replies and faults per model, provider and kind of request;
    `add_model` / `set_provider` shape the catalogue, quirks, latency, error rates and outage
    episodes (seeded by `seed`). Every request is kept in `requests`.

    Example:
        >>> from hfproviders.testing import FakeRouter, Fault
        >>> router = FakeRouter()
        >>> _ = router.on(provider="groq").respond(Fault.status(503))
        >>> with router.serve() as server:  # doctest: +SKIP
        ...     client = HFClient(base_url=server.base_url, api_key="test", router=True)

    Args:
        models: the catalogue (`None`: a small default one; `[]`: empty).
        strict: refuse models not in the catalogue (400 `model_not_found`, Hub 404) instead of
            serving them with `default_provider`.
        token: when set, only `Authorization: Bearer <token>` is accepted (else 401).
        seed: seeds latency draws and error rates, per provider.
        clock: a monotonic clock in seconds (episodes count from construction).
        max_recorded: how many requests `requests` keeps (the counters count them all).
        memoize: answer a request identical to an earlier one (method, path, body, `x-fake-*`
            headers) with the same plan, without deciding again: scripts, health and rate limits
            are then decided once per distinct request. For benchmarks, where the server's own
            CPU must stay negligible.

    """

    def __init__(
        self,
        models: Iterable[FakeModel] | None = None,
        *,
        strict: bool = False,
        token: str | None = None,
        default_provider: str = "together",
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        max_recorded: int = 10_000,
        memoize: bool = False,
    ) -> None:
        self.strict = strict
        self.token = token
        self.default_provider = default_provider
        self.seed = seed
        self.clock = clock
        self.started = clock()
        self.models: dict[str, FakeModel] = {}
        self.providers: dict[str, Provider] = {}
        self.rules: list[Rule] = []
        self.requests: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self.counts: Counter[str] = Counter()
        self.open_connections = 0
        self.disconnects = 0
        self._lock = threading.RLock()
        self._rngs: dict[str, random.Random] = {}
        self._per_provider: Counter[str] = Counter()
        self._per_key: Counter[str] = Counter()
        self._windows: dict[str, tuple[int, int]] = {}
        self._prompts_seen: set[str] = set()
        self.server: LoopbackServer | None = None
        self.raw_steps: dict[str, Fault] = {}
        self.memoize = memoize
        self._memo: dict[tuple[str, str, bytes, tuple[tuple[str, str], ...]], Plan] = {}
        for model in default_models() if models is None else models:
            self.models[model.id] = model

    # -- configuration -----------------------------------------------------------------------

    def add_model(
        self,
        model_id: str,
        providers: Sequence[str | Provider] = ("together",),
        *,
        pipeline_tag: str = "text-generation",
        gated: bool | str = False,
        access: bool = True,
        embedding_dim: int = 384,
    ) -> FakeModel:
        """Add (or replace) a model served by `providers` (names use `set_provider`'s specs)."""
        specs = [
            p if isinstance(p, Provider) else self.providers.get(p) or Provider(p)
            for p in providers
        ]
        model = FakeModel(model_id, specs, pipeline_tag, gated, access, embedding_dim)
        with self._lock:
            self.models[model_id] = model
        return model

    def set_provider(self, provider: Provider) -> Provider:
        """Define how a provider behaves everywhere: it replaces that provider in every model."""
        with self._lock:
            self.providers[provider.name] = provider
            for model in self.models.values():
                model.providers = [
                    _with_catalogue(provider, p) if p.name == provider.name else p
                    for p in model.providers
                ]
        return provider

    def configure_provider(self, name: str, **changes: Any) -> None:
        """Change how `name` behaves wherever it serves (`latency=`, `error_rate=`, `quirks=`…).

        Unlike `set_provider`, the catalogue facts of each model's entry are kept.
        """
        from dataclasses import replace

        with self._lock:
            base = self.providers.get(name) or Provider(name)
            self.providers[name] = replace(base, **changes)
            for model in self.models.values():
                model.providers = [
                    replace(p, **changes) if p.name == name else p for p in model.providers
                ]

    def on(
        self, *, model: str | None = None, provider: str | None = None, kind: str | None = None
    ) -> Rule:
        """A rule for matching requests; call `.respond(...)` or `.respond_once(...)` on it.

        `model` is the HF model id without suffix; `provider` the serving provider; `kind` one of
        `chat`, `text_generation`, `embeddings`, `models`, `hub`. Newer rules win.
        """
        rule = Rule(model, provider, kind)
        with self._lock:
            self.rules.insert(0, rule)
        return rule

    def add_raw(self, name: str, response: bytes, *, hold_open: bool = False) -> str:
        """Register a raw HTTP response for `x-fake-steps: raw:NAME`; returns that step name."""
        with self._lock:
            self.raw_steps[name] = Fault.raw(response, hold_open=hold_open)
        return f"raw:{name}"

    def wait_idle(self, timeout: float = 3.0) -> int:
        """Wait until the served router has no open connection; return how many still are."""
        return self.server.wait_idle(timeout) if self.server is not None else 0

    def count(self, *, key: str) -> int:
        """How many requests carried `x-fake-key: <key>`."""
        with self._lock:
            return self.counts[f"key:{key}"]

    def reset(self) -> None:
        """Forget requests, counters and scripts (the catalogue stays)."""
        with self._lock:
            self.requests.clear()
            self.counts.clear()
            self.rules.clear()
            self._per_provider.clear()
            self._per_key.clear()
            self._windows.clear()
            self._prompts_seen.clear()
            self._memo.clear()
            self.disconnects = 0
            self.started = self.clock()

    # -- what was received -------------------------------------------------------------------

    def requests_to(
        self, *, provider: str | None = None, kind: str | None = None
    ) -> list[RecordedRequest]:
        """The recorded requests served by `provider` and/or of `kind`."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (provider is None or r.provider == provider) and (kind is None or r.kind == kind)
            ]

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request (IndexError when there is none)."""
        with self._lock:
            return self.requests[-1]

    def stats(self) -> dict[str, Any]:
        """Counters: requests in total, per kind, per provider, per model; connections."""
        with self._lock:
            return {
                "requests": sum(v for k, v in self.counts.items() if k.startswith("kind:")),
                "by_kind": _strip(self.counts, "kind:"),
                "by_route": _strip(self.counts, "route:"),
                "by_provider": _strip(self.counts, "provider:"),
                "by_model": _strip(self.counts, "model:"),
                "by_key": _strip(self.counts, "key:"),
                "by_status": _strip(self.counts, "status:"),
                "open_connections": self.open_connections,
                "disconnects": self.disconnects,
            }

    # -- serving -----------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> LoopbackServer:
        """Start a loopback HTTP server for this router (a context manager; `.stop()` ends it)."""
        from hfproviders.testing._server import LoopbackServer

        self.server = LoopbackServer(self, host, port).start()
        return self.server

    @property
    def base_url(self) -> str:
        """The served router's OpenAI-compatible base URL (`http://127.0.0.1:PORT/v1`)."""
        if self.server is None:
            raise RuntimeError("the fake router is not served: call serve() first")
        return self.server.base_url

    @property
    def url(self) -> str:
        """The served router's root URL (Hub lookups, TGI, per-provider routes live there)."""
        if self.server is None:
            raise RuntimeError("the fake router is not served: call serve() first")
        return self.server.url

    def transport(self) -> Any:
        """An in-process httpx transport (sync and async) answering from this router."""
        from hfproviders.testing._httpx import FakeRouterTransport

        return FakeRouterTransport(self)

    # -- handling ----------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Plan:
        """Decide the answer to one request, and record it."""
        path = request.path
        if path.startswith("/__fake/"):
            return self._control(request)
        with self._lock:
            request.at_s = self.clock() - self.started
            self.requests.append(request)
        plan = self._memoized(request)
        with self._lock:
            request.status = plan.status if plan.status > 0 else None
            request.request_id = next((v for k, v in plan.headers if k == "x-request-id"), None)
            self.counts[f"kind:{request.kind or 'unknown'}"] += 1
            self.counts[f"route:{_route_name(request)}"] += 1
            if request.provider:
                self.counts[f"provider:{request.provider}"] += 1
            if request.model:
                self.counts[f"model:{request.model}"] += 1
            if key := request.headers.get("x-fake-key"):
                self.counts[f"key:{key}"] += 1
            self.counts[f"status:{plan.status}"] += 1
        return plan

    def _memoized(self, request: RecordedRequest) -> Plan:
        if not self.memoize:
            return self._route(request)
        fake_headers = tuple(
            sorted((k, v) for k, v in request.headers.items() if k.startswith("x-fake-"))
        )
        key = (request.method, request.path, request.body, fake_headers)
        known = self._memo.get(key)
        if known is not None:
            request.kind, request.model, request.provider = known.facts
            return known
        plan = self._route(request)
        plan.facts = (request.kind, request.model, request.provider)
        with self._lock:
            if len(self._memo) < 10_000:
                self._memo[key] = plan
        return plan

    def _control(self, request: RecordedRequest) -> Plan:
        if request.path == "/__fake/reset" and request.method == "POST":
            self.reset()
        if request.path == "/__fake/requests":
            with self._lock:
                listed = [
                    {
                        "method": r.method,
                        "url": r.url,
                        "kind": r.kind,
                        "model": r.model,
                        "provider": r.provider,
                        "status": r.status,
                        "body": r.json,
                    }
                    for r in self.requests
                ]
            return _json_plan(200, listed)
        stats = self.stats()
        if self.server is not None:
            stats["open_connections"] -= 1  # not the connection asking
        return _json_plan(200, stats)

    def _route(self, request: RecordedRequest) -> Plan:
        path = request.path.rstrip("/") or "/"
        method = request.method
        if not self._authorized(request):
            request.kind = "auth"
            return status_plan(
                Fault.status(401),
                provider=None,
                rid=self._rid(request),
                model="",
                router_level=True,
            )
        if method == "GET":
            return self._route_get(request, path)
        if method != "POST":
            return _not_found()
        body = request.json
        if not isinstance(body, dict):
            request.kind = "invalid"
            return _json_plan(400, {"error": "Failed to parse the request body as JSON"})
        if path.endswith("/chat/completions"):
            return self._chat(request, body, path)
        if path.endswith("/pipeline/feature-extraction") or path.endswith("/embeddings"):
            return self._embeddings(request, body, path)
        if path.startswith(("/hf-inference/models/", "/models/")) or path in (
            "/",
            "/generate",
            "/generate_stream",
        ):
            return self._text_generation(request, body, path)
        return _not_found()

    def _authorized(self, request: RecordedRequest) -> bool:
        if self.token is None:
            return True
        auth = request.headers.get("authorization", "")
        public_hub = request.method == "GET" and request.path.startswith("/api/models/")
        return auth == f"Bearer {self.token}" or (public_hub and not auth)

    def _route_get(self, request: RecordedRequest, path: str) -> Plan:
        if path.endswith("/models") or "/models/" in path and path.startswith("/v1/"):
            request.kind = "models"
            step = self._scripted(request, "models", None, None)
            if isinstance(step, Fault):
                return status_plan(
                    step, provider=None, rid=self._rid(request), model="", router_level=True
                )
            with self._lock:
                entries = [m.catalogue_entry() for m in self.models.values()]
            if path.startswith("/v1/models/"):
                wanted = unquote(path[len("/v1/models/") :])
                found = [e for e in entries if e["id"] == wanted]
                if not found:
                    return _not_found()
                return _json_plan(200, found[0], provider_headers=self._rid(request))
            return _json_plan(
                200, {"object": "list", "data": entries}, provider_headers=self._rid(request)
            )
        if path.startswith("/api/models/"):
            return self._hub(request, path)
        if path == "/info":
            request.kind = "info"
            return _json_plan(
                200,
                {
                    "model_id": "tgi",
                    "max_input_tokens": 8192,
                    "max_total_tokens": 16384,
                    "version": "3.3.0",
                },
            )
        return _not_found()

    def _hub(self, request: RecordedRequest, path: str) -> Plan:
        request.kind = "hub"
        rest = unquote(path[len("/api/models/") :])
        auth_check = rest.endswith("/auth-check")
        model_id = rest.removesuffix("/auth-check")
        request.model = model_id
        step = self._scripted(request, "hub", model_id, None)
        if isinstance(step, Fault):
            return status_plan(
                step, provider=None, rid=self._rid(request), model=model_id, router_level=True
            )
        model = self._model(model_id)
        hub_headers = [
            ("ratelimit", '"api";r=999;t=242'),
            ("ratelimit-policy", '"fixed window";"api";q=1000;w=300'),
        ]
        if model is None:
            plan = _json_plan(404, {"error": "Repository not found"})
            plan.headers += [("x-error-code", "RepoNotFound"), *hub_headers]
            return plan
        if auth_check:
            if model.gated and not model.access:
                plan = _json_plan(403, {"error": f"Access to model {model_id} is restricted."})
                plan.headers += [("x-error-code", "GatedRepo"), *hub_headers]
                return plan
            return _json_plan(200, {}, extra=hub_headers)
        return _json_plan(200, model.hub_info(), extra=hub_headers)

    def _model(self, model_id: str) -> FakeModel | None:
        with self._lock:
            model = self.models.get(model_id)
        if model is not None or self.strict:
            return model
        provider = self.providers.get(self.default_provider) or Provider(self.default_provider)
        return FakeModel(model_id, [provider])

    def _by_provider_id(self, provider: str, provider_model_id: str) -> FakeModel | None:
        with self._lock:
            for model in self.models.values():
                p = model.provider(provider)
                if p is not None and (p.provider_model_id or model.id) == provider_model_id:
                    return model
        return None

    def _pick(self, model: FakeModel, wanted: str | None) -> Provider | None:
        live = [p for p in model.providers if p.status == "live"]
        if wanted is None or wanted in ("preferred", "auto"):
            return live[0] if live else None
        if wanted == "fastest":
            return max(live, key=lambda p: p.throughput or 0.0, default=None)
        if wanted == "cheapest":
            inf = float("inf")
            return min(
                live,
                key=lambda p: p.pricing_output if p.pricing_output is not None else inf,
                default=None,
            )
        return model.provider(wanted)

    def _resolve(
        self, request: RecordedRequest, body: Mapping[str, Any], path: str
    ) -> tuple[FakeModel | None, Provider | None, Plan | None]:
        """The model and serving provider of an inference request, or the router's refusal."""
        route_provider = path.strip("/").split("/")[0]
        raw_model = body.get("model")
        if path.startswith("/hf-inference/models/"):
            model_id = unquote(path[len("/hf-inference/models/") :])
            for tail in ("/v1/chat/completions", "/pipeline/feature-extraction"):
                model_id = model_id.removesuffix(tail)
            model = self._model(model_id)
            provider = model.provider("hf-inference") if model else None
            if model is not None and provider is None and not self.strict:
                provider = Provider("hf-inference")
            request.model = model_id
        elif route_provider not in ("v1", "") and not path.startswith("/v1/"):
            provider_model_id = str(raw_model or "")
            model = self._by_provider_id(route_provider, provider_model_id)
            if model is None and not self.strict:
                model = FakeModel(provider_model_id, [Provider(route_provider)])
            provider = model.provider(route_provider) if model else None
            request.model = model.id if model else provider_model_id
        else:
            if not isinstance(raw_model, str) or not raw_model:
                return (
                    None,
                    None,
                    _json_plan(
                        400,
                        {
                            "error": {
                                "message": "model is required",
                                "type": "invalid_request_error",
                                "param": "model",
                                "code": None,
                            }
                        },
                        rid=self._rid(request),
                    ),
                )
            model_id, _, suffix = raw_model.partition(":")
            request.model = model_id
            model = self._model(model_id)
            if model is None:
                return None, None, _router_error(self._rid(request), model_id, "model_not_found")
            if suffix and suffix not in POLICIES and model.provider(suffix) is None:
                if self.strict or model_id in self.models:
                    return (
                        model,
                        None,
                        _router_error(self._rid(request), model_id, "model_not_supported"),
                    )
                return model, Provider(suffix), None
            provider = self._pick(model, suffix or None)
        if model is None:
            return None, None, _router_error(self._rid(request), str(raw_model), "model_not_found")
        if provider is None:
            return model, None, _router_error(self._rid(request), model.id, "model_not_supported")
        request.provider = provider.name
        return model, provider, None

    # -- steps -------------------------------------------------------------------------------

    def _scripted(
        self, request: RecordedRequest, kind: str, model: str | None, provider: str | None
    ) -> Step | None:
        header = request.headers.get("x-fake-steps")
        if header:
            return self._header_step(header, request.headers.get("x-fake-key", ""), model)
        with self._lock:
            for rule in self.rules:
                if rule.matches(kind, model, provider):
                    request.rule = rule
                    return rule.next_step(request)
        return None

    def _normal(
        self,
        request: RecordedRequest,
        kind: str,
        model: str | None,
        provider: str | None,
        body: Mapping[str, Any],
    ) -> Reply:
        """The answer without faults: a scripted reply that always applies, else the default.

        A fault (`x-fake-steps`, an error rate) breaks this answer; `ok` plays it.
        """
        with self._lock:
            rules = [
                r for r in self.rules if r is not request.rule and r.matches(kind, model, provider)
            ]
        for rule in rules:
            step = rule.peek(request)
            if isinstance(step, Reply) and not _pacing_only(step):
                return step
        return auto_reply(body)

    def _header_step(self, spec: str, key: str, model: str | None) -> Step:
        with self._lock:
            self._per_key[key] += 1
            attempt = self._per_key[key]
        if spec.strip() == "mix":
            draw = hashlib.sha256(f"{model}|{key}|{attempt}".encode()).digest()
            return parse_step(MIX[draw[0] % len(MIX)])
        steps = [s for s in spec.split(",") if s.strip()]
        chosen = steps[min(attempt, len(steps)) - 1 if key else 0].strip()
        if chosen.startswith("raw:"):
            try:
                return self.raw_steps[chosen[4:]]
            except KeyError:
                raise ValueError(f"no raw response registered as {chosen[4:]!r}") from None
        return parse_step(chosen)

    def _rng(self, provider: str) -> random.Random:
        rng = self._rngs.get(provider)
        if rng is None:
            rng = self._rngs[provider] = random.Random(f"{self.seed}|{provider}")
        return rng

    def _behaviour(self, provider: Provider) -> tuple[Fault | None, float, float, int]:
        """Provider health for this request.

        Returns a fault (outage, error rate, rate limit) or None, the time to first token, the
        time between chunks, and the rate-limit `remaining`.
        """
        with self._lock:
            number = self._per_provider[provider.name]
            self._per_provider[provider.name] += 1
            elapsed = self.clock() - self.started
            rng = self._rng(provider.name)
            ttft = provider.latency.sample_ttft(rng)
            draw = rng.random()
            minute = int(elapsed // 60)
            window, used = self._windows.get(provider.name, (minute, 0))
            used = used + 1 if window == minute else 1
            self._windows[provider.name] = (minute, used)
        remaining = max(0, provider.ratelimit - used)
        per_chunk = provider.latency.per_chunk_s
        for episode in provider.episodes:
            if episode.active(elapsed, number):
                if episode.slow_factor is None:
                    return Fault.status(episode.status), 0.0, 0.0, remaining
                ttft *= episode.slow_factor
                per_chunk *= episode.slow_factor
        if used > provider.ratelimit:
            wait = max(1, int(60 - elapsed % 60))
            return Fault.status(429, retry_after=wait), 0.0, 0.0, 0
        if provider.error_rate and draw < provider.error_rate:
            return Fault.status(provider.error_status), ttft, 0.0, remaining
        return None, ttft, per_chunk, remaining

    def _rid(self, request: RecordedRequest) -> str:
        seen = len(self.requests)
        return request_id(f"{self.seed}|{request.path}|{request.body!r}|{seen}")

    def _cached_tokens(self, body: Mapping[str, Any]) -> int | None:
        messages = body.get("messages")
        system = "".join(
            message_text(m.get("content"))
            for m in (messages if isinstance(messages, list) else ())
            if isinstance(m, Mapping) and m.get("role") == "system"
        )
        if len(system) < 1500:
            return None
        key = hashlib.sha256(system.encode()).hexdigest()
        with self._lock:
            seen = key in self._prompts_seen
            self._prompts_seen.add(key)
        return (len(system) // 4 // 64) * 64 if seen else 0

    # -- the inference routes ----------------------------------------------------------------

    def _chat(self, request: RecordedRequest, body: dict[str, Any], path: str) -> Plan:
        request.kind = "chat"
        model, provider, refusal = self._resolve(request, body, path)
        if refusal is not None or model is None or provider is None:
            return refusal or _not_found()
        key = digest(body)
        rid = request_id(f"{self.seed}|{key}")
        served = provider.provider_model_id or model.id
        ctx = ChatContext(body, provider, rid, self._cached_tokens(body), served, key)
        step = self._scripted(request, "chat", model.id, provider.name)
        health, ttft, per_chunk, remaining = self._behaviour(provider)
        if step is None:
            step = health or self._normal(request, "chat", model.id, provider.name, body)
        if isinstance(step, Fault):
            good = self._normal(request, "chat", model.id, provider.name, body)
            plan = fault_plan(
                step,
                ctx,
                remaining=remaining,
                authorization=request.headers.get("authorization", ""),
                good=good,
            )
            plan.delay_s = max(plan.delay_s, ttft if step.kind == "status" else 0.0)
            return plan
        if _pacing_only(step):
            normal = self._normal(request, "chat", model.id, provider.name, body)
            step = Reply(**{**normal.__dict__, **_pacing(step)})
        if step.reasoning and provider.quirks.think_inline:
            step = Reply(**{**step.__dict__, "reasoning_style": "think"})
        plan = chat_plan(ctx, step, remaining=remaining, per_chunk_s=per_chunk)
        plan.delay_s = max(plan.delay_s, ttft)
        return plan

    def _text_generation(self, request: RecordedRequest, body: dict[str, Any], path: str) -> Plan:
        request.kind = "text_generation"
        if path.startswith("/hf-inference/models/"):
            model, provider, refusal = self._resolve(request, body, path)
            if refusal is not None or model is None or provider is None:
                return refusal or _not_found()
        else:
            model_id = path[len("/models/") :] if path.startswith("/models/") else "tgi"
            request.model, request.provider = model_id, "hf-inference"
            model, provider = FakeModel(model_id, []), Provider("hf-inference")
        if path == "/generate_stream":
            body = {**body, "stream": True}
        step = self._scripted(request, "text_generation", model.id, provider.name)
        health, ttft, _, remaining = self._behaviour(provider)
        step = step or health
        rid = request_id(f"{self.seed}|{digest(body)}")
        if isinstance(step, Fault):
            if step.kind == "error_event":
                error = {"error": step.message, "error_type": "validation"}
                headers = router_headers(provider.name, rid, content_type="text/event-stream")
                first = {
                    "index": 1,
                    "token": {"id": 1, "text": "one", "logprob": -0.1, "special": False},
                    "generated_text": None,
                    "details": None,
                }
                events = [f"data:{dumps(first)}\n\n".encode(), f"data:{dumps(error)}\n\n".encode()]
                return Plan(200, headers, list(events), True)
            ctx = ChatContext(body, provider, rid, None, model.id)
            return fault_plan(
                step,
                ctx,
                remaining=remaining,
                authorization=request.headers.get("authorization", ""),
                good=Reply("ok"),
            )
        prompt = prompt_of(body)
        reply = step if isinstance(step, Reply) and not _pacing_only(step) else None
        if reply is None:
            auto = auto_reply(
                {"model": model.id, "messages": [{"role": "user", "content": prompt}]}
            )
            reply = Reply(text=" " + auto.text, **_pacing(step) if isinstance(step, Reply) else {})
        plan = text_generation_plan(body, reply, provider, rid, remaining)
        plan.delay_s = max(plan.delay_s, ttft)
        return plan

    def _embeddings(self, request: RecordedRequest, body: dict[str, Any], path: str) -> Plan:
        request.kind = "embeddings"
        openai_style = path.endswith("/embeddings")
        if openai_style and path.startswith("/v1/"):
            model, provider, refusal = self._resolve(request, body, "/v1/chat/completions")
        else:
            model, provider, refusal = self._resolve(request, body, path)
        if refusal is not None or model is None or provider is None:
            return refusal or _not_found()
        key = "input" if openai_style else "inputs"
        if not isinstance(body.get(key), str | list):
            request.kind = "embeddings"
            return _json_plan(
                422,
                {
                    "error": f"Input validation error: `{key}` is required",
                    "error_type": "validation",
                },
            )
        step = self._scripted(request, "embeddings", model.id, provider.name)
        health, ttft, _, remaining = self._behaviour(provider)
        step = step or health
        rid = request_id(f"{self.seed}|{digest(body)}")
        if isinstance(step, Fault):
            ctx = ChatContext(body, provider, rid, None, model.id)
            return fault_plan(
                step,
                ctx,
                remaining=remaining,
                authorization=request.headers.get("authorization", ""),
                good=Reply("ok"),
            )
        served = provider.provider_model_id or model.id
        result = embeddings_body(
            body, openai_style=openai_style, dimensions=model.embedding_dim, served_model=served
        )
        plan = _json_plan(200, result, provider=provider.name, rid=rid)
        plan.delay_s = max(ttft, step.delay_s if isinstance(step, Reply) else 0.0)
        return plan


def _pacing_only(step: Reply) -> bool:
    """A reply with no content of its own: it paces the default answer."""
    return not (step.text or step.reasoning or step.tool_calls or step.chunks is not None) and (
        step.json is None
    )


def _pacing(step: Reply) -> dict[str, Any]:
    return {
        "delay_s": step.delay_s,
        "chunk_delay_s": step.chunk_delay_s,
        "chunk_chars": step.chunk_chars,
        "headers": step.headers,
    }


def _with_catalogue(behaviour: Provider, listed: Provider) -> Provider:
    """`behaviour`'s conduct with the per-model catalogue facts of `listed`."""
    from dataclasses import replace

    return replace(
        behaviour,
        provider_model_id=listed.provider_model_id,
        task=listed.task,
    )


def _route_name(request: RecordedRequest) -> str:
    """The route counted in `stats()["by_route"]`: `chat`, `chat_tools_stream`, `models`, etc."""
    body = request.json if request.kind in ("chat", "text_generation") else None
    name = request.kind or "unknown"
    if isinstance(body, dict):
        name += "_tools" if body.get("tools") else ""
        stream = body.get("stream") is True or request.path == "/generate_stream"
        name += "_stream" if stream else ""
    return name


def _strip(counts: Counter[str], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in counts.items() if k.startswith(prefix)}


def _json_plan(
    status: int,
    payload: Any,
    *,
    provider: str | None = None,
    rid: str = "FakeRouterReq0001",
    provider_headers: str | None = None,
    extra: Sequence[tuple[str, str]] = (),
) -> Plan:
    headers = router_headers(provider, provider_headers or rid, content_type=JSON_TYPE)
    return Plan(status, [*headers, *extra], [dumps(payload).encode()])


def _not_found() -> Plan:
    return Plan(
        404, router_headers(None, "FakeRouterReq0404", content_type="text/plain"), [b"Not Found"]
    )


def _router_error(rid: str, model: str, code: str) -> Plan:
    if code == "model_not_found":
        message = f"The requested model '{model}' does not exist."
    else:
        message = (
            f"The requested model '{model}' is not supported by any provider you have enabled."
        )
    error = {"message": message, "type": "invalid_request_error", "param": "model", "code": code}
    return _json_plan(400, {"error": error}, rid=rid)
