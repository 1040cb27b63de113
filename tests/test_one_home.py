"""House rules: one meaning per name, one home per fact (issue 15, item 3).

Walks the source of ``app`` (its syntax trees, docstrings and comments left out) so that a
copy of a vocabulary that has a home fails here instead of drifting from it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.api.operations import OPERATIONS
from app.config import API_PATH
from app.models.client import AUTH_METHODS, PUBLIC_AUTH_METHOD

APP = Path(__file__).resolve().parent.parent / "app"


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(APP.rglob("*.py")):
        yield path.relative_to(APP.parent).as_posix(), ast.parse(path.read_text())


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring nodes of the module and of its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _strings() -> list[tuple[str, str]]:
    """(module, text) of every string literal in app, f-string parts included."""
    strings = []
    for module, tree in _modules():
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                strings.append((module, node.value))
    return strings


STRINGS = _strings()


def _modules_spelling(predicate: object) -> set[str]:
    assert callable(predicate)
    return {module for module, text in STRINGS if predicate(text)}


@pytest.mark.parametrize("method", [m for m in AUTH_METHODS if m != PUBLIC_AUTH_METHOD])
def test_client_authentication_methods_are_spelled_only_in_the_client_model(method: str) -> None:
    # "none" is too common a word to police; the others are only ever auth method names.
    assert _modules_spelling(lambda text: text == method) == {"app/models/client.py"}


@pytest.mark.parametrize("name", [operation.name for operation in OPERATIONS])
def test_api_operation_names_are_spelled_only_in_the_operations_table(name: str) -> None:
    assert _modules_spelling(lambda text: text == name) == {"app/api/operations.py"}


def test_the_api_path_is_spelled_only_in_config() -> None:
    assert _modules_spelling(lambda text: API_PATH in text) == {"app/config.py"}


def test_no_two_classes_in_app_share_a_name() -> None:
    homes: dict[str, list[str]] = defaultdict(list)
    for module, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name != "Meta":  # marshmallow options
                homes[node.name].append(module)
    assert {name: where for name, where in homes.items() if len(where) > 1} == {}


def test_registration_accepts_exactly_the_grant_types_the_token_endpoint_serves() -> None:
    """services.client_metadata keeps the names (services may not import app.oauth); they must
    be the grant types app.oauth.server registers, which discovery and /token read."""
    from app.oauth.server import GRANT_TYPES as SERVED
    from app.services.client_metadata import GRANT_TYPES as REGISTRABLE

    assert sorted(REGISTRABLE) == sorted(grant.GRANT_TYPE for grant in SERVED)
