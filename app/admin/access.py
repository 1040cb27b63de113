"""Who may open admin pages: the anonymous are sent to sign in, non-admins get 403."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.extensions import login_manager
from app.route_policy import csrf_protected, html_errors, no_rate_limit

# The route policy of every admin blueprint: ``declare(bp, *ADMIN_PAGES)``.
ADMIN_PAGES = (html_errors, csrf_protected, no_rate_limit("administrators only (admin_required)"))


def admin_required(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            response: ResponseReturnValue = login_manager.unauthorized()
            return response
        if not current_user.is_admin:
            abort(403, "This page is for administrators.")
        return view(*args, **kwargs)

    return wrapper
