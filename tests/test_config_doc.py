"""docs/configuration.md's table is generated from the settings declaration and kept current."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from app import config_doc
from app.settings import Settings


def test_the_configuration_table_is_current() -> None:
    page = config_doc.PAGE.read_text()
    assert config_doc.render_page(page) == page, (
        f"docs/configuration.md is not current: run {config_doc.REGENERATE}"
    )


def test_the_table_has_a_row_per_setting_with_its_description() -> None:
    table = config_doc.render_table()
    for field in fields(Settings):
        assert f"| `{field.name.upper()}` |" in table
        assert str(field.metadata["description"]).replace("|", "\\|") in table


def test_a_stale_table_is_reported_with_the_command_then_regenerated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "configuration.md"
    stale = config_doc.render_page(config_doc.PAGE.read_text()).replace("| `OAUTH_ISSUER` |", "|")
    page.write_text("Prose before.\n" + stale + "Prose after.\n")
    monkeypatch.setattr(config_doc, "PAGE", page)
    assert config_doc.main(["--check"]) == 1
    assert config_doc.REGENERATE in capsys.readouterr().err
    assert config_doc.main([]) == 0
    assert config_doc.main(["--check"]) == 0
    text = page.read_text()
    assert text.startswith("Prose before.\n") and text.endswith("Prose after.\n")
    assert "| `OAUTH_ISSUER` |" in text
