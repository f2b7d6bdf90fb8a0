"""Core errors, re-raised so they also fit langchain-core's `ModelError` families.

Every class here inherits from both the hfproviders error and the langchain-core class of the
same condition, so `except hfproviders.RateLimitError` and
`except langchain_core.exceptions.ModelRateLimitError` both catch a 429:

```
hfproviders error           langchain-core family
AuthenticationError  ─┬──── ModelAuthenticationError        (401; also a missing token)
PermissionDeniedError ┼──── ModelPermissionDeniedError      (403)
PaymentRequiredError ─┼──── ModelError                      (402: credits depleted)
ContextLengthError ───┼──── ContextOverflowError + ModelInvalidRequestError
ModelNotFoundError ───┼──── ModelNotFoundError              (also 404 NotFoundError)
BadRequestError ──────┼──── ModelInvalidRequestError        (400/422, not-supported, bad input)
RateLimitError ───────┼──── ModelRateLimitError             (429; client limiter wait too long)
ServerError ──────────┼──── ModelAPIError                   (5xx, broken stream, all providers)
APITimeoutError ──────┼──── ModelTimeoutError
APIConnectionError ───┴──── ModelConnectionError
```

The dual classes are made on first use (one per core class, cached) and carry the core class's
name, so `type(err).__name__` reads the same as it would without LangChain.
The re-raised error keeps every field of the original (status, provider, request id, body,
partial stream result…) and chains it as `__cause__`.
"""

from __future__ import annotations

from langchain_core import exceptions as lc

import hfproviders

__all__ = ["dual_class", "to_langchain_error"]


# The langchain-core family of each core error class. The lookup walks the raised class's
# MRO, so a subclass the table does not name still lands in its parent's family.
_FAMILIES: dict[type[hfproviders.HFProvidersError], type[lc.ModelError]] = {
    hfproviders.AuthenticationError: lc.ModelAuthenticationError,
    hfproviders.MissingTokenError: lc.ModelAuthenticationError,
    hfproviders.PermissionDeniedError: lc.ModelPermissionDeniedError,
    hfproviders.PaymentRequiredError: lc.ModelError,
    hfproviders.ContextLengthError: lc.ContextOverflowError,
    hfproviders.ModelNotFoundError: lc.ModelNotFoundError,
    hfproviders.NotFoundError: lc.ModelNotFoundError,
    hfproviders.BadRequestError: lc.ModelInvalidRequestError,
    hfproviders.InvalidRequestInputError: lc.ModelInvalidRequestError,
    hfproviders.RateLimitError: lc.ModelRateLimitError,
    hfproviders.RateLimitWaitTooLongError: lc.ModelRateLimitError,
    hfproviders.ServerError: lc.ModelAPIError,
    hfproviders.StreamError: lc.ModelAPIError,
    hfproviders.AllProvidersFailedError: lc.ModelAPIError,
    hfproviders.APIError: lc.ModelError,
    hfproviders.APITimeoutError: lc.ModelTimeoutError,
    hfproviders.APIConnectionError: lc.ModelConnectionError,
}


_ErrorClass = type[hfproviders.HFProvidersError]
_DUAL_CLASSES: dict[_ErrorClass, _ErrorClass] = {}


def dual_class(core_class: _ErrorClass) -> _ErrorClass:
    """The class that is both `core_class` and its langchain-core family (made once, cached)."""
    cached = _DUAL_CLASSES.get(core_class)
    if cached is None:
        cached = _DUAL_CLASSES[core_class] = _make_dual_class(core_class)
    return cached


def _make_dual_class(core_class: _ErrorClass) -> _ErrorClass:
    family = next((_FAMILIES[c] for c in core_class.__mro__ if c in _FAMILIES), None)
    if family is None or issubclass(core_class, family):
        return core_class
    bases: tuple[type, ...] = (core_class, family)
    if family is lc.ContextOverflowError:
        # A context overflow is also a rejected request: keep `except ModelInvalidRequestError`
        # handlers working for it.
        bases += (lc.ModelInvalidRequestError,)
    namespace = {"__module__": __name__, "__doc__": core_class.__doc__}
    dual: _ErrorClass = type(core_class.__name__, bases, namespace)
    return dual


def to_langchain_error(error: hfproviders.HFProvidersError) -> hfproviders.HFProvidersError:
    """The same error as an instance of its dual (core + langchain-core) class.

    Every attribute (status, provider, request id, body, partial result, …) is kept.
    """
    target = dual_class(type(error))
    if target is type(error):
        return error
    converted = target.__new__(target)
    converted.__dict__.update(error.__dict__)
    converted.args = error.args
    return converted
