"""Comments that cite a document cite one that is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("complaintflow", "streams", "alerting", "projections", "schemas", "bench", "tests")


def _cited_docs() -> dict[str, set[str]]:
    """docs/*.md path -> the files that cite it."""
    cited: dict[str, set[str]] = {}
    for directory in CODE_DIRS:
        for path in (ROOT / directory).rglob("*.py"):
            if path == Path(__file__).resolve():
                continue
            for doc in re.findall(r"\bdocs/[\w./-]+\.md\b", path.read_text()):
                cited.setdefault(doc, set()).add(path.relative_to(ROOT).as_posix())
    return cited


def test_every_cited_doc_exists():
    missing = {doc: sorted(by) for doc, by in _cited_docs().items() if not (ROOT / doc).is_file()}
    assert not missing, f"cited but not in the repository: {missing}"


def test_the_local_stack_is_documented_and_linked_from_the_readme():
    assert "docs/local-stack.md" in _cited_docs()
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Local stack and production", 1)[1].split("\n## ", 1)[0]
    assert "(docs/local-stack.md)" in section
