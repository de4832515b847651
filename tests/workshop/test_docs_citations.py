"""Every "<document>.md §<n>" citation in the code, tests, notebooks and READMEs points at a
document in docs/ and at a section heading that exists there.

The module docstrings explain their rules by citing the contract and the formats by section
number; a citation that points nowhere sends a reader to the wrong rule. Outside docs/ a citation
names its document as ``docs/<name>.md`` so that it cannot be mistaken for another file; a bare
``§<n>`` later in the same file refers to a document that file cites.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path


def _repo_root() -> Path:
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise AssertionError(f"no pyproject.toml above {__file__}: cannot find the repository root")


ROOT = _repo_root()
DOCS = ROOT / "docs"
SCANNED_FOLDERS = ("src", "workshop_helpers", "bench", "tests", "notebooks", "scripts", "docs")
SCANNED_FILES = ("README.md", "conftest.py", "pyproject.toml", "Makefile", "Dockerfile")
SCANNED_SUFFIXES = {".py", ".md", ".ipynb", ".toml", ".cfg", ".sh", ".yml", ".yaml"}
SKIPPED_PARTS = {".venv", "__pycache__", "build", "runs", ".ipynb_checkpoints"}

SECTION = r"\d+(?:\.\d+)*"
# A document name, optionally written as a link target or in backticks, then one or more
# sections: "docs/file-formats.md §12, §4", "[file-formats.md §1.4 and §8.2](...)", "§2.2-§2.5".
CITATION = re.compile(
    rf"(?<![\w/.-])(?P<docs>docs/)?(?P<name>[A-Za-z][\w-]*)\.md`?\s*§\s*(?P<first>{SECTION})"
    rf"(?P<more>(?:\s*(?:,|and|/|-|–)\s*§\s*{SECTION})*)"
)
BARE_SECTION = re.compile(rf"§\s*({SECTION})")
DOCS_PATH = re.compile(r"(?<![\w/.-])docs/([\w-]+\.md)\b")
HEADING = re.compile(rf"^#{{1,6}}\s+({SECTION})\.?\s")


def _scanned_files() -> list[Path]:
    found = [ROOT / name for name in SCANNED_FILES if (ROOT / name).is_file()]
    for folder in SCANNED_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            relative = path.relative_to(ROOT)
            if (
                path.is_file()
                and path.suffix in SCANNED_SUFFIXES
                and not SKIPPED_PARTS.intersection(relative.parts)
                and path.resolve() != Path(__file__).resolve()
            ):
                found.append(path)
    return found


@cache
def _sections(document: str) -> frozenset[str]:
    """The section numbers that head a part of docs/<document>, outside fenced code blocks."""
    numbers = set()
    in_code = False
    for line in (DOCS / document).read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and (match := HEADING.match(line)):
            numbers.add(match.group(1))
    return frozenset(numbers)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _check_file(path: Path) -> list[str]:
    return _check_text(path.read_text(encoding="utf-8"), path.relative_to(ROOT))


def _check_text(text: str, where: Path) -> list[str]:
    """What is wrong with the citations in ``text``, the content of repository file ``where``."""
    in_docs = where.parts[0] == "docs"
    problems = []
    cited_documents = {where.name} if in_docs else set()
    citation_spans = []
    for match in CITATION.finditer(text):
        citation_spans.append(match.span())
        line = _line_of(text, match.start())
        document = f"{match['name']}.md"
        if not in_docs and not match["docs"]:
            problems.append(
                f"{where}:{line}: {match.group(0)!r} does not say where the document is; "
                f"write it as docs/{document}"
            )
        if not (DOCS / document).is_file():
            problems.append(
                f"{where}:{line}: {match.group(0)!r} cites {document}, which is not in docs/; "
                "cite one of " + ", ".join(sorted(p.name for p in DOCS.glob("*.md")))
            )
            continue
        cited_documents.add(document)
        sections = [match["first"], *BARE_SECTION.findall(match["more"])]
        for section in sections:
            if section not in _sections(document):
                problems.append(
                    f"{where}:{line}: {match.group(0)!r} cites §{section}, but docs/{document} "
                    f"has no heading numbered {section}; fix the number or the heading"
                )
    for match in BARE_SECTION.finditer(text):
        if any(start <= match.start() < end for start, end in citation_spans):
            continue
        section = match.group(1)
        line = _line_of(text, match.start())
        if not cited_documents:
            problems.append(
                f"{where}:{line}: '§{section}' names no document and the file cites none; "
                "write it as docs/<document>.md §" + section
            )
        elif not any(section in _sections(document) for document in cited_documents):
            problems.append(
                f"{where}:{line}: '§{section}' is not a section heading of "
                + " or ".join(f"docs/{d}" for d in sorted(cited_documents))
                + "; name the document it belongs to"
            )
    if not in_docs:
        for match in DOCS_PATH.finditer(text):
            if not (DOCS / match.group(1)).is_file():
                problems.append(
                    f"{where}:{_line_of(text, match.start())}: docs/{match.group(1)} does not exist"
                )
    return problems


def test_every_cited_document_and_section_exists_in_docs() -> None:
    problems = [problem for path in _scanned_files() for problem in _check_file(path)]
    assert not problems, "citations that point nowhere:\n" + "\n".join(problems)


def test_the_code_cites_the_contract_and_the_formats() -> None:
    """Guards the check above against a pattern that silently matches nothing."""
    cited = {
        (match["name"], match["first"])
        for path in _scanned_files()
        if path.relative_to(ROOT).parts[0] == "src"
        for match in CITATION.finditer(path.read_text(encoding="utf-8"))
    }
    assert ("simulator-contract", "6.4") in cited, sorted(cited)
    assert ("file-formats", "12") in cited, sorted(cited)


def test_a_wrong_section_and_an_unprefixed_name_are_reported() -> None:
    """A citation of a section the document lacks, or without docs/, is named with the fix."""
    where = Path("src/markov/formats/simtrace.py")
    text = (ROOT / where).read_text(encoding="utf-8")
    assert "docs/file-formats.md §7" in text
    wrong_section = text.replace("docs/file-formats.md §7", "docs/file-formats.md §77", 1)
    assert any("no heading numbered 77" in p for p in _check_text(wrong_section, where))
    unprefixed = text.replace("docs/file-formats.md §7", "file-formats.md §7", 1)
    assert any("write it as docs/file-formats.md" in p for p in _check_text(unprefixed, where))
    missing = text.replace("docs/file-formats.md §7", "docs/formats.md §7", 1)
    assert any("not in docs/" in p for p in _check_text(missing, where))
