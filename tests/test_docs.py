"""The README is a door and docs/ the rooms: the README stays small, and no link points nowhere.

Also: code and tests cite the security checklist as ``docs/security.md ROW-ID``, and every row
they cite is one docs/security.md describes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
GUIDES = [ROOT / "examples" / "photoprint" / "README.md"]  # for integrators, next to the code

# [text](target) and ![alt](target), not inside code spans or blocks (stripped first).
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
ROW_ID = r"(?:RU|PK|ST|AC|RT|RV|IN|CA|JW|KS|UI|LS|LG|API|ER|RL|OF|LO|NA)-\d{2}"


def links(path: Path) -> list[str]:
    text = CODE_SPAN.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))
    return LINK.findall(text)


def anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def relative_targets(path: Path) -> list[tuple[str, Path, str]]:
    out = []
    for target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, fragment = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        out.append((target, resolved, fragment))
    return out


def test_readme_is_at_most_15_kib() -> None:
    size = len(README.read_bytes())
    assert size <= 15 * 1024, f"README.md is {size} bytes; move detail into docs/"


def test_the_docs_pages_of_the_map_exist() -> None:
    names = {"protocols", "api", "pages", "configuration", "operations", "security"}
    names |= {"performance", "development"}
    assert {page.stem for page in PAGES} >= names
    linked = {t for t in links(README) if t.startswith("docs/") and ".md" in t}
    assert {f"docs/{name}.md" for name in names} <= {t.partition("#")[0] for t in linked}


@pytest.mark.parametrize("page", [README, *PAGES, *GUIDES], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target, resolved, fragment in relative_targets(page):
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no heading #{fragment}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_configuration_page_keeps_the_generated_table_markers() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert text.count("<!-- BEGIN CONFIG TABLE -->") == 1
    assert text.count("<!-- END CONFIG TABLE -->") == 1


def test_the_changelog_has_an_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog")
    assert "## [Unreleased]" in text


def citing_files() -> list[Path]:
    files = [*(ROOT / "app").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    return sorted(path for path in files if path != Path(__file__).resolve())


def test_code_cites_docs_security_md_not_a_missing_security_md() -> None:
    stale = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in citing_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "SECURITY.md" in line and "/shared/SECURITY.md" not in line
    ]
    assert not stale, "cite docs/security.md instead: " + ", ".join(stale)


def test_every_cited_row_is_described_in_docs_security_md() -> None:
    table = (DOCS / "security.md").read_text(encoding="utf-8")
    described = set(re.findall(rf"^\| ({ROW_ID}) \|", table, re.M))
    cited = set()
    for path in citing_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "docs/security.md" in line:
                cited.update(re.findall(ROW_ID, line))
    assert cited, "no citation of docs/security.md found"
    assert not cited - described, f"cited but not in docs/security.md: {cited - described}"
