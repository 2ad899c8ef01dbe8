"""The README and the docs point only at what the repository holds: every relative link leads to a
file (and, with ``#anchor``, to a heading of it), and every repository path they name in code
spans (``web/rest.py``, ``models/prices.toml``, ``providers/``) exists. A module moved or renamed
fails here until the docs say where it went. No service runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP_LEVEL = {path.name for path in ROOT.iterdir() if not path.name.startswith(".")}
# Files the docs name that a run creates (the data directory), not the repository.
CREATED_BY_RUNS = ("var/",)
FILE_SUFFIXES = (".py", ".toml", ".md", ".graphql", ".lock")


def prose(path: Path) -> str:
    """The document without its fenced code blocks (examples, not references)."""
    return re.sub(r"^```.*?^```", "", path.read_text(), flags=re.DOTALL | re.MULTILINE)


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a markdown file."""
    headings = re.findall(r"^#+ (.+)$", prose(path), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def repository_paths(text: str) -> set[tuple[str, tuple[str, ...]]]:
    """Code spans that name a file or directory of this repository, each with the directories named
    on the same line: a bare file name (`rest.py` in the `web/` row of a table) may be in one of
    them."""
    found = set()
    for line in text.splitlines():
        spans = [span.strip() for span in re.findall(r"`([^`\n]+)`", line)]
        directories = tuple(span for span in spans if span.endswith("/") and span.split("/")[0] in TOP_LEVEL)
        for span in spans:
            if not re.fullmatch(r"[\w./-]+", span) or span.startswith(("/", ".", "-")) or "//" in span:
                continue
            first = span.split("/")[0]
            if ("/" in span and first in TOP_LEVEL) or ("/" not in span and span.endswith(FILE_SUFFIXES)):
                found.add((span, directories))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_leads_to_a_file_and_heading(doc: Path) -> None:
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", prose(doc)):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (doc.parent / file_part).resolve() if file_part else doc
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert not broken, f"{doc.name} links to what does not exist: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_named_exists(doc: Path) -> None:
    missing = sorted(
        path
        for path, directories in repository_paths(prose(doc))
        if not path.startswith(CREATED_BY_RUNS)
        and not any((base / path).exists() for base in (ROOT, doc.parent, *(ROOT / d for d in directories)))
    )
    assert not missing, f"{doc.name} names paths the repository does not hold: {missing}"


# Notes kept outside the repository that code and docs once cited; the facts are now in docs/.
OUTSIDE = re.compile(
    r"\.\./shared/|/work/shared|\bCONTRACT\.md|\bDESIGN\.md|product-doc|providers\.md [AB][0-9]"
)
SOURCES = [
    path
    for directory in (
        "web",
        "realtime",
        "tasks",
        "resolvers",
        "schema",
        "services",
        "models",
        "providers",
        "storage",
        "tests",
        "bench",
        "docs",
    )
    for path in sorted((ROOT / directory).rglob("*"))
    if path.suffix in (".py", ".md", ".toml") and path != Path(__file__).resolve()
] + [ROOT / "main.py", ROOT / "README.md", ROOT / "BENCHMARKS.md", ROOT / "pyproject.toml", ROOT / "Makefile"]


def test_nothing_cites_notes_outside_the_repository() -> None:
    cited = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in SOURCES
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not cited, f"cite docs/ instead: {cited}"


def test_every_section_cited_as_docs_page_name_exists() -> None:
    """``docs/providers.md, Kling`` in a comment names a heading of that page."""
    wrong = []
    for path in SOURCES:
        for doc, section in re.findall(r"docs/(\w+\.md), \"?([A-Z][\w]*)", path.read_text()):
            headings = re.findall(r"^#+ (.+)$", prose(ROOT / "docs" / doc), flags=re.MULTILINE)
            if not any(section in heading.split() or heading.startswith(section) for heading in headings):
                wrong.append(f"{path.relative_to(ROOT)}: docs/{doc}, {section}")
    assert not wrong, f"no such section: {wrong}"
