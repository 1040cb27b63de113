"""House rules of the settings: one declaration, read through one typed object.

Every setting is declared once in app/settings.py with a type, a default and a description;
``DEFAULTS`` is derived from it, and code outside app/config.py reads ``settings()``, never
``current_app.config[...]`` for one of Tessera's own keys.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from flask import Flask

from app.config import DEFAULTS
from app.settings import Settings, settings

APP = Path(__file__).resolve().parent.parent / "app"
DECLARED = {field.name.upper() for field in dataclasses.fields(Settings)}
# config["KEY"], config['KEY'], config.get("KEY" ...) on any mapping named *config
CONFIG_READ = re.compile(r"config(?:\[|\.get\(|\.setdefault\()\s*[\"']([A-Z][A-Z0-9_]*)[\"']")


def test_defaults_are_the_declaration() -> None:
    assert set(DEFAULTS) == DECLARED


def test_every_setting_has_a_one_line_description() -> None:
    for field in dataclasses.fields(Settings):
        description = field.metadata.get("description", "")
        assert description.strip() and "\n" not in description, field.name


def raw_reads(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if path == root / "config.py":
            continue  # the loader fills and validates app.config
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for key in CONFIG_READ.findall(line):
                if key in DECLARED:
                    found.append(f"{path.relative_to(root.parent)}:{number}: {key}")
    return found


def test_code_reads_tesseras_settings_through_the_typed_object() -> None:
    assert raw_reads(APP) == [], "read settings().<name> instead of current_app.config[...]"


def test_the_rule_sees_a_raw_read(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "module.py").write_text('x = current_app.config["OAUTH_ISSUER"]\n')
    assert raw_reads(tmp_path / "app") == ["app/module.py:1: OAUTH_ISSUER"]


def test_settings_are_built_once_and_frozen(app: Flask) -> None:
    built = settings(app)
    assert built.oauth_issuer == app.config["OAUTH_ISSUER"]
    assert built.oauth_extra_resources == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.oauth_issuer = "https://elsewhere.example"  # type: ignore[misc]
