"""Features a deployment can switch off, and the one way an off feature behaves.

An off feature is absent: each of its routes answers 404 (JSON on protocol paths, through the
error handlers) and the discovery documents leave out its endpoints and fields. Routes declare
their feature with :func:`requires_feature`; metadata asks :func:`feature_enabled`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from flask import abort

from app.settings import Settings, settings

View = TypeVar("View", bound=Callable[..., Any])


class Feature(StrEnum):
    REGISTRATION = "registration"  # RFC 7591/7592 dynamic client registration
    PAR = "par"  # RFC 9126 pushed authorization requests
    DEVICE_FLOW = "device_flow"  # RFC 8628 device authorization grant
    DPOP = "dpop"  # RFC 9449 sender-constrained tokens (no endpoint of its own)


# Which setting switches each feature off.
SWITCHES: dict[Feature, Callable[[Settings], bool]] = {
    Feature.REGISTRATION: lambda s: s.registration_mode != "off",
    Feature.PAR: lambda s: s.par_enabled,
    Feature.DEVICE_FLOW: lambda s: s.device_flow_enabled,
    Feature.DPOP: lambda s: s.dpop_enabled,
}


def feature_enabled(feature: Feature) -> bool:
    return SWITCHES[feature](settings())


def requires_feature(feature: Feature) -> Callable[[View], View]:
    """Route decorator: 404 while ``feature`` is off. The view records its feature
    (``view.required_feature``) so a test walking the url_map can find every gated route."""

    def decorate(view: View) -> View:
        @wraps(view)
        def gated(*args: Any, **kwargs: Any) -> Any:
            if not feature_enabled(feature):
                abort(404)
            return view(*args, **kwargs)

        gated.required_feature = feature  # type: ignore[attr-defined]
        return gated  # type: ignore[return-value]

    return decorate
