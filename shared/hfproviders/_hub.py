"""The Hub's side of discovery: which providers are mapped to a model, and who may use it.

`GET https://huggingface.co/api/models/{id}?expand[]=inferenceProviderMapping` (WIRE.md §1) says
whether the model exists, whether it is gated, and which providers serve it (live / staging / error,
with the task and the provider's own model id). For a gated model, `/api/models/{id}/auth-check`
says whether this token was granted access.

Everything here is sans-I/O: `hub_model_info_request` and `hub_auth_check_url` say what to ask,
and `availability_from_hub_json`, `availability_from_hub_error` and
`availability_after_access_check` read the answers into a `ModelAvailability`. `HubLookup` drives
one `model_providers` lookup: the clients send the requests it asks for on their own transport,
so the lookup shares their connection pool, retries and timeouts, and works the same sync and
async.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from hfproviders._catalog import opt_bool, opt_str, strip_model_suffix

if TYPE_CHECKING:
    from hfproviders._config import ClientConfig
    from hfproviders._errors import APIError
    from hfproviders._request import Request

__all__ = [
    "HUB_ENDPOINT",
    "HUB_EXPAND",
    "HubErrorKind",
    "HubLookup",
    "ModelAvailability",
    "ProviderMapping",
    "availability_after_access_check",
    "availability_from_hub_error",
    "availability_from_hub_json",
    "classify_hub_error",
    "deny_access",
    "hub_auth_check_url",
    "hub_endpoint",
    "hub_model_info_request",
    "needs_access_check",
    "parse_provider_mapping",
]

HUB_ENDPOINT = "https://huggingface.co"
"""The Hub, unless `HF_ENDPOINT` names another (a mirror, a gateway), as huggingface_hub does."""
# What `model_providers` asks the Hub for: the mapping plus the fields `check` reports, and the
# config, whose `tokenizer_config.chat_template` says whether the template opens `<think>`.
HUB_EXPAND: tuple[str, ...] = ("inferenceProviderMapping", "gated", "pipeline_tag", "config")

HubErrorKind = Literal["not_found", "gated", "unauthorized", "forbidden", "disabled"]


@dataclass(frozen=True, slots=True)
class ProviderMapping:
    """One entry of the Hub's `inferenceProviderMapping` for a model.

    `status` is `live`, `staging` or `error` (the last is real though undocumented, WIRE.md §1);
    `provider_model_id` is the id the provider itself uses for the model.
    """

    provider: str
    status: str
    task: str | None = None
    provider_model_id: str | None = None
    is_model_author: bool | None = None
    adapter: str | None = None
    adapter_weights_path: str | None = None
    mapping_type: str | None = None

    @property
    def is_live(self) -> bool:
        """True when the Hub reports the mapping as live."""
        return self.status == "live"


def _mapping_from_fields(provider: str | None, fields: Mapping[str, Any]) -> ProviderMapping | None:
    name = provider or opt_str(fields.get("provider"))
    if name is None:
        return None
    return ProviderMapping(
        provider=name,
        status=opt_str(fields.get("status")) or "unknown",
        task=opt_str(fields.get("task")),
        provider_model_id=opt_str(fields.get("providerId")),
        is_model_author=opt_bool(fields.get("isModelAuthor")),
        adapter=opt_str(fields.get("adapter")),
        adapter_weights_path=opt_str(fields.get("adapterWeightsPath")),
        mapping_type=opt_str(fields.get("type")),
    )


def parse_provider_mapping(data: object) -> list[ProviderMapping]:
    """Parse `inferenceProviderMapping`: the dict form `{provider: {...}}` or the legacy list form.

    The whole model JSON (with an `inferenceProviderMapping` key) is accepted too. Entries that
    are not objects or have no provider name are skipped; a missing mapping gives `[]`.
    """
    if isinstance(data, Mapping) and "inferenceProviderMapping" in data:
        data = data["inferenceProviderMapping"]
    if isinstance(data, Mapping):
        pairs: Iterable[tuple[str | None, object]] = ((str(k), v) for k, v in data.items())
    elif isinstance(data, list):
        pairs = ((None, v) for v in data)
    else:
        return []
    return [
        mapping
        for name, fields in pairs
        if isinstance(fields, Mapping) and (mapping := _mapping_from_fields(name, fields))
    ]


@dataclass(frozen=True, slots=True)
class ModelAvailability:
    """What the Hub says about a model for this token.

    - `exists`: False when the Hub does not know the model, or it is private and the token cannot
      see it (the Hub does not tell those apart); None when the answer was about the token instead.
    - `gated` / `gate_mode` (`"auto"` or `"manual"` approval).
    - `accessible`: whether the token may use the repo (for a gated model: access was granted);
      None when no token was given. It does not prove the token has the "Make calls to Inference
      Providers" permission; only a real request (`hfproviders check --probe`) proves that.
    - `providers`: the mapping, in the Hub's order (the account's preference order when the lookup
      is authenticated).
    - `error_code` (a `HubErrorKind`) and `error` (a sentence) when something is wrong.
    - `template_opens_think`: whether the model's chat template opens a `<think>` block for the
      answer (None when the Hub did not show the template); chat calls read it from the cache.
    """

    model: str
    exists: bool | None
    gated: bool | None = None
    gate_mode: str | None = None
    accessible: bool | None = None
    pipeline_tag: str | None = None
    providers: tuple[ProviderMapping, ...] = ()
    error_code: HubErrorKind | None = None
    error: str | None = None
    template_opens_think: bool | None = None

    @property
    def live_providers(self) -> tuple[ProviderMapping, ...]:
        """The mappings whose status is live."""
        return tuple(p for p in self.providers if p.is_live)

    def provider(self, name: str) -> ProviderMapping | None:
        """Return the mapping for provider `name` (case-insensitive), or None."""
        wanted = name.casefold()
        return next((p for p in self.providers if p.provider.casefold() == wanted), None)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def hub_endpoint() -> str:
    """Where Hub lookups go: `HF_ENDPOINT` when set, else https://huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or HUB_ENDPOINT).rstrip("/")


def hub_model_info_request(
    model: str, endpoint: str | None = None
) -> tuple[str, list[tuple[str, str]]]:
    """URL and query parameters of the Hub lookup (for a client doing it on its own transport)."""
    url = f"{(endpoint or hub_endpoint()).rstrip('/')}/api/models/{strip_model_suffix(model)}"
    return url, [("expand[]", name) for name in HUB_EXPAND]


def hub_auth_check_url(model: str, endpoint: str | None = None) -> str:
    """URL of the Hub's access check for `model` (200 when the token may read the repo)."""
    root = (endpoint or hub_endpoint()).rstrip("/")
    return f"{root}/api/models/{strip_model_suffix(model)}/auth-check"


def _gate_fields(gated: object) -> tuple[bool | None, str | None]:
    if gated is False:
        return False, None
    if isinstance(gated, str) and gated:
        return True, gated
    if gated is True:
        return True, None
    return None, None


def availability_from_hub_json(
    model: str,
    data: Mapping[str, Any],
    *,
    token_given: bool,
    access_granted: bool | None = None,
) -> ModelAvailability:
    """Build the availability from the Hub's model JSON (an existing model).

    `access_granted` is the result of the access check for a gated model (None when not made).
    A public model is accessible to any token; with no token, access is unknown (None).
    """
    gated, gate_mode = _gate_fields(data.get("gated"))
    accessible: bool | None
    if not token_given:
        accessible = None
    elif gated:
        accessible = access_granted
    else:
        accessible = True
    availability = ModelAvailability(
        # The requested name, not the Hub's canonical id: it is the cache key callers look up.
        model=strip_model_suffix(model),
        exists=True,
        gated=gated,
        gate_mode=gate_mode,
        accessible=accessible,
        pipeline_tag=opt_str(data.get("pipeline_tag")),
        providers=tuple(parse_provider_mapping(data.get("inferenceProviderMapping"))),
        template_opens_think=_template_opens_think(data.get("config")),
    )
    if accessible is False:
        return deny_access(availability, "gated")
    return availability


def _template_opens_think(config: object) -> bool | None:
    tokenizer = config.get("tokenizer_config") if isinstance(config, Mapping) else None
    if not isinstance(tokenizer, Mapping):
        return None
    from hfproviders._normalize import template_opens_think

    return template_opens_think(tokenizer.get("chat_template"))


def classify_hub_error(status_code: int, headers: Mapping[str, str]) -> HubErrorKind | None:
    """Say what a Hub error means for the model, or None when it is not about it (5xx…).

    Reads errors as huggingface_hub's `hf_raise_for_status` does: `X-Error-Code` first, then the
    status. A 401 is an invalid token only when the Hub says so; otherwise it is how the Hub
    hides private, gated and missing repos from anonymous callers, so it reads as not found.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    error_code = lowered.get("x-error-code", "")
    error_message = lowered.get("x-error-message", "")
    if error_code == "GatedRepo":
        return "gated"
    if error_code == "DisabledRepo":
        return "disabled"
    if error_code == "RepoNotFound" or status_code == 404:
        return "not_found"
    if status_code == 401:
        # The Hub answers 401 both for a bad token and to hide private, gated or missing repos
        # from callers it does not know; only the message tells the two apart.
        if "invalid credentials" in error_message.lower():
            return "unauthorized"
        return "not_found"
    if status_code == 403:
        return "forbidden"
    if status_code == 451:
        return "disabled"
    return None


_HUB_ERROR_SENTENCES: dict[HubErrorKind, str] = {
    "not_found": "The Hub does not know this model "
    "(or it is private and this token cannot see it).",
    "gated": "The model is gated and this token has not been granted access; "
    "request it at https://huggingface.co/{model}.",
    "unauthorized": "The Hub rejected the token (invalid or expired); "
    "create one at https://huggingface.co/settings/tokens.",
    "forbidden": "The token is not allowed to read this model.",
    "disabled": "Access to this model has been disabled on the Hub.",
}


def _sentence(kind: HubErrorKind, model: str, token_given: bool) -> str:
    text = _HUB_ERROR_SENTENCES[kind].format(model=strip_model_suffix(model))
    if kind == "not_found" and not token_given:
        text += " No token was sent."
    return text


def deny_access(
    availability: ModelAvailability, kind: HubErrorKind, *, token_given: bool = True
) -> ModelAvailability:
    """Return the same availability, marked as not accessible for the reason `kind`."""
    return replace(
        availability,
        accessible=False,
        error_code=kind,
        error=_sentence(kind, availability.model, token_given),
    )


def availability_from_hub_error(
    model: str, status_code: int, headers: Mapping[str, str], *, token_given: bool
) -> ModelAvailability | None:
    """Availability for a failed model lookup, or None when the error is not about the model."""
    kind = classify_hub_error(status_code, headers)
    if kind is None:
        return None
    name = strip_model_suffix(model)
    exists: bool | None = {"not_found": False, "gated": True, "disabled": True}.get(kind)
    return ModelAvailability(
        model=name,
        exists=exists,
        gated=True if kind == "gated" else None,
        accessible=False,
        error_code=kind,
        error=_sentence(kind, name, token_given),
    )


def needs_access_check(availability: ModelAvailability, *, token_given: bool) -> bool:
    """Whether the Hub's access check is needed: a gated model looked up with a token."""
    return token_given and availability.exists is True and availability.gated is True


def availability_after_access_check(
    availability: ModelAvailability, status_code: int, headers: Mapping[str, str]
) -> ModelAvailability | None:
    """Fold the answer of `hub_auth_check_url` into `availability`.

    2xx grants access. A refusal denies it: any "not found" for a model we just saw means this
    token may not see it, which for a gated model is the gate. None when the status says nothing
    about access (5xx, 429): the caller raises the typed error for it.
    """
    if 200 <= status_code < 300:
        return replace(availability, accessible=True)
    kind = classify_hub_error(status_code, headers)
    if kind is None:
        return None
    return deny_access(availability, "gated" if kind == "not_found" else kind)


class HubLookup:
    """One `model_providers` lookup, sans I/O: the model info, then (gated) the access check.

    ```
    lookup = HubLookup(config, model, refresh)
    while (request := lookup.next_request()) is not None:
        try:
            lookup.answered(send(request))     # the JSON answer
        except APIError as error:
            lookup.failed(error)               # raises it unless it says something about access
    return lookup.result()
    ```
    """

    __slots__ = ("_config", "_model", "_pending", "_token_given", "availability")

    def __init__(self, config: ClientConfig, model: str, refresh: bool) -> None:
        self._config = config
        self._model = model
        cached = None if refresh else config.discovery.get_availability(strip_model_suffix(model))
        self.availability: ModelAvailability | None = cached
        self._pending: Request | None = None if cached is not None else _info_request(config, model)
        self._token_given = self._pending is not None and "Authorization" in self._pending.headers

    def next_request(self) -> Request | None:
        """The next request to send, or None when the answer is known."""
        request, self._pending = self._pending, None
        return request

    def answered(self, data: Any) -> None:
        """The JSON answer of the last request."""
        if self.availability is None:
            if not isinstance(data, Mapping):
                from hfproviders._errors import APIError

                raise APIError(f"Unexpected Hub answer for {self._model}")
            self._found(
                availability_from_hub_json(self._model, data, token_given=self._token_given)
            )
        else:
            self._checked(availability_after_access_check(self.availability, 200, {}), None)

    def failed(self, error: APIError) -> None:
        """The last request failed: fold what the error says about the model, or raise it."""
        if self.availability is None:
            found = availability_from_hub_error(
                self._model, error.status_code or 0, error.headers, token_given=self._token_given
            )
            if found is None:
                raise error
            self._found(found)
        else:
            checked = availability_after_access_check(
                self.availability, error.status_code or 0, error.headers
            )
            self._checked(checked, error)

    def _found(self, availability: ModelAvailability) -> None:
        self.availability = availability
        if availability.accessible is None and needs_access_check(
            availability, token_given=self._token_given
        ):
            from hfproviders._request import lookup_request

            url = hub_auth_check_url(self._model)
            self._pending = lookup_request(self._config, url, self._model, hub=True)
        else:
            self._config.discovery.put_availability(availability)

    def _checked(self, availability: ModelAvailability | None, error: APIError | None) -> None:
        if availability is None:
            assert error is not None
            raise error
        self.availability = availability
        self._config.discovery.put_availability(availability)

    def result(self) -> ModelAvailability:
        """The availability, once `next_request()` returned None."""
        assert self.availability is not None
        return self.availability


def _info_request(config: ClientConfig, model: str) -> Request:
    """The Hub's model-info lookup for `model` (provider mapping, gating), checked first."""
    from urllib.parse import urlencode

    from hfproviders._params import check_hub_model_id
    from hfproviders._request import lookup_request

    url, query = hub_model_info_request(check_hub_model_id(model))
    return lookup_request(config, f"{url}?{urlencode(query)}", model, hub=True)
