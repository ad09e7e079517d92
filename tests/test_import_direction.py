"""Dependencies point one way: the CLI and the local stack (complaintflow/) compose the
libraries (streams/, alerting/, projections/, schemas/); no library imports complaintflow.

The modules are read with ast, not imported, so an import inside a function or under
`if TYPE_CHECKING:` counts as much as one at the top of a file.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = ("streams", "alerting", "projections", "schemas")
FORBIDDEN = "complaintflow"

def _imported_modules(tree: ast.AST) -> set[str]:
    """Every absolute module an import statement names, and every constant string passed to
    importlib.import_module / __import__ (a dynamic import is still a dependency)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            # `from complaintflow import stack` depends on complaintflow.stack
            names.update(f"{node.module}.{alias.name}" for alias in node.names
                         if node.module == FORBIDDEN)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def _is_dynamic_import(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in ("import_module", "__import__")


def _is_forbidden(module: str) -> bool:
    return module == FORBIDDEN or module.startswith(f"{FORBIDDEN}.")


def _library_modules() -> list[Path]:
    return sorted(path for library in LIBRARIES for path in (ROOT / library).rglob("*.py"))


def _forbidden_imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in _library_modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        imports = {m for m in _imported_modules(tree) if _is_forbidden(m)}
        if imports:
            found[path.relative_to(ROOT).as_posix()] = imports
    return found


def _most_specific(imports: set[str]) -> set[str]:
    """complaintflow.config, not also the package complaintflow it belongs to."""
    return {m for m in imports if not any(o.startswith(f"{m}.") for o in imports)}


def test_libraries_do_not_import_complaintflow():
    violations = {
        path: sorted(_most_specific(imports))
        for path, imports in _forbidden_imports().items()
    }
    violations = {path: modules for path, modules in violations.items() if modules}
    assert not violations, (
        f"{', '.join(LIBRARIES)} must not import {FORBIDDEN} (it composes them, not the other "
        f"way round); take what is needed as an argument, or move the code that needs the "
        f"local stack into {FORBIDDEN}/: {violations}")


def test_the_walk_sees_every_kind_of_import():
    source = """
import complaintflow.stack
from complaintflow import config
from complaintflow.processes import stop
import importlib

def later():
    from complaintflow.cli import main
    importlib.import_module("complaintflow.demo")
    __import__("complaintflow.services")

from . import sibling
from streams.topics import EVENTS
"""
    imports = _imported_modules(ast.parse(source))
    assert {m for m in imports if _is_forbidden(m)} == {
        "complaintflow", "complaintflow.stack", "complaintflow.config",
        "complaintflow.processes", "complaintflow.cli", "complaintflow.demo",
        "complaintflow.services"}
    assert "streams.topics" in imports


def test_every_library_is_walked():
    walked = {path.relative_to(ROOT).parts[0] for path in _library_modules()}
    assert walked == set(LIBRARIES)
    assert ROOT / "alerting" / "alertmanager.py" in _library_modules()
