"""Tessera's Flask class: Flask, with ``ensure_sync``'s question answered once per code object."""

from __future__ import annotations

from collections.abc import Callable
from inspect import iscoroutinefunction
from types import CodeType
from typing import Any

from flask import Flask


class TesseraFlask(Flask):
    """Flask asks ``ensure_sync`` about every hook, error handler and view on every request,
    and each answer runs ``inspect.iscoroutinefunction``: 13 times a photo API call, about
    2 µs each. Whether a function is a coroutine function is a flag of its code object, so
    the answer is kept per code object. Not per function: closures made per request (e.g.
    by ``after_this_request``) would grow the cache without end; they share one code object.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synchronous: dict[CodeType, bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        code = getattr(func, "__code__", None)  # a function's, or a bound method's function's
        if type(code) is not CodeType:  # a partial, a callable object: ask as Flask does
            return super().ensure_sync(func)
        synchronous = self._synchronous.get(code)
        if synchronous is None:
            synchronous = self._synchronous[code] = not iscoroutinefunction(func)
        return func if synchronous else self.async_to_sync(func)
