"""House rules read from the source tree: only services own transactions.

Protocol, HTTP and CLI code (app/oauth, app/api, app/account, app/admin, app/cli, ...) calls
service functions, and the service commits or rolls back what it wrote. A ``.commit()`` or
``.rollback()`` anywhere outside app/services is a second owner of the transaction.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
SERVICES = APP / "services"
TRANSACTION_CALLS = {"commit", "rollback"}


def transaction_calls(source: str, name: str) -> list[str]:
    """``name:line .commit()`` for every ``<anything>.commit()`` / ``.rollback()`` call."""
    return [
        f"{name}:{node.lineno} .{node.func.attr}()"
        for node in ast.walk(ast.parse(source, filename=name))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in TRANSACTION_CALLS
    ]


def test_the_rule_sees_commits_and_rollbacks_however_spelt() -> None:
    source = "def f(db, s):\n    db.session.commit()\n    db.session().rollback()\n    s.commit()\n"
    assert transaction_calls(source, "m.py") == [
        "m.py:2 .commit()",
        "m.py:3 .rollback()",
        "m.py:4 .commit()",
    ]


def test_only_services_commit_or_roll_back() -> None:
    modules = [path for path in APP.rglob("*.py") if SERVICES not in path.parents]
    assert len(modules) > 20  # the walk found the app
    offenders = [
        call
        for path in modules
        for call in transaction_calls(path.read_text("utf-8"), str(path.relative_to(APP.parent)))
    ]
    assert offenders == [], (
        "Only app/services owns transactions; move these into a service function:\n"
        + "\n".join(offenders)
    )
