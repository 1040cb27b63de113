"""The configuration table of docs/configuration.md, generated from the settings declaration.

    python -m app.config_doc           # rewrite the table between the markers
    python -m app.config_doc --check   # exit 1 when the table is not current

Only the text between the markers is written; the prose around them is the page's own.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from app.config import KINDS
from app.settings import Settings

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
BEGIN = "<!-- BEGIN CONFIG TABLE -->"
END = "<!-- END CONFIG TABLE -->"
REGENERATE = "python -m app.config_doc (or: make config-table)"
NEW_PAGE = f"""# Configuration

Every setting has a default (below). A deployment overrides it in `instance/config.py` (Python,
`OAUTH_ISSUER = "https://id.example.com"`) or, taking precedence, in an environment variable
named `FLASK_` + the setting (`FLASK_OAUTH_ISSUER=https://id.example.com`); a variable's value
is read as JSON when it parses (`FLASK_DPOP_ENABLED=false`, `FLASK_OAUTH_ACCESS_TOKEN_TTL=300`,
`FLASK_OAUTH_EXTRA_RESOURCES='["https://print.example.com"]'`) and as text otherwise. Settings
are checked once at start-up: a missing or invalid value stops the server or CLI with an error
naming the setting. A feature switched off (registration, PAR, device flow, DPoP) is absent:
its endpoints answer 404 and discovery does not advertise it.

{BEGIN}
{END}
"""


def _default(value: Any) -> str:
    if value is None:
        return "*unset*"
    return f"`{value if isinstance(value, str) else json.dumps(value)}`"


def render_table() -> str:
    """The Markdown table: setting, default, type, description, in declaration order."""
    rows = ["| Setting | Default | Type | Description |", "| --- | --- | --- | --- |"]
    for field in fields(Settings):
        kind = KINDS[str(field.type)][0]
        description = str(field.metadata["description"]).replace("|", "\\|")
        default = _default(field.metadata["default"])
        rows.append(f"| `{field.name.upper()}` | {default} | {kind} | {description} |")
    return "\n".join(rows) + "\n"


def render_page(page: str) -> str:
    """``page`` with the text between the markers replaced by the current table."""
    head, found, rest = page.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise ValueError(f"{PAGE.name} must hold {BEGIN} and {END}")
    return f"{head}{BEGIN}\n{render_table()}{END}{tail}"


def main(argv: list[str]) -> int:
    page = PAGE.read_text() if PAGE.exists() else NEW_PAGE
    current = render_page(page)
    if "--check" in argv:
        if current != page:
            print(f"{PAGE} is not current: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(current)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
