"""Tessera's Flask class: Flask, with ``ensure_sync``'s answer kept per function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask


class TesseraFlask(Flask):
    """Flask asks ``ensure_sync`` about every hook, error handler and view on every request,
    and each answer runs ``inspect.iscoroutinefunction``: 13 times a photo API call, about
    2 µs each. The answer never changes for a function, so it is kept. The hooks and views
    are registered once, so the cache stays as small as the app."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synchronous: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._synchronous[func]
        except KeyError:
            found = self._synchronous[func] = super().ensure_sync(func)
            return found
        except TypeError:  # an unhashable callable: ask every time, as Flask does
            return super().ensure_sync(func)
