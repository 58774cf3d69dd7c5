"""The shape of the code: data flows one way, no module imports another that imports it back
(at any depth, counting imports inside functions too), and functions stay short."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.clitools import ROOT

PACKAGES = ("benchmarks", "models", "metrics", "reports")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (a package import counts as its __init__)."""
    files = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
             if "peers" not in p.parts}
    graph = {}
    for name, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets.add(node.module)
                targets |= {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _is_package_init(importer: str, imported: str) -> bool:
    # a package's __init__ re-exporting its own modules is not a circle of concepts
    return imported.startswith(importer + ".")


def test_no_import_circle():
    graph = {m: {t for t in ts if not _is_package_init(m, t)} for m, ts in _graph().items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


@pytest.mark.parametrize("package", ["models", "metrics", "reports"])
def test_models_metrics_reports_import_no_other_package_of_ours(package):
    others = set(PACKAGES) - {package}
    bad = {m: sorted(t for t in ts if t.split(".")[0] in others)
           for m, ts in _graph().items() if m.split(".")[0] == package}
    assert not {m: ts for m, ts in bad.items() if ts}


MAX_FUNCTION_LINES = 60  # a function longer than a screen does more than one thing
# qualified name -> why it may be longer for now; remove an entry once its function is split
LONG_FUNCTIONS: dict[str, str] = {}


def _function_lengths(path: Path) -> dict[str, int]:
    """'file: Class.method' (or 'file: outer.inner') -> lines from def to its last line."""
    where = path.relative_to(ROOT).as_posix()
    lengths = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    lengths[f"{where}: {name}"] = child.end_lineno - child.lineno + 1
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(), str(path)), "")
    return lengths


def test_functions_stay_short():
    """No function outside tests (and the verbatim tutorial recipes in benchmarks/peers/) is
    over MAX_FUNCTION_LINES lines, except those named in LONG_FUNCTIONS with their reason."""
    lengths = {name: n for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
               if "peers" not in p.parts for name, n in _function_lengths(p).items()}
    long = [f"{name} ({n} lines)" for name, n in lengths.items()
            if n > MAX_FUNCTION_LINES and name not in LONG_FUNCTIONS]
    assert not long, (f"over {MAX_FUNCTION_LINES} lines: {', '.join(long)}; split them, or "
                      "name them in LONG_FUNCTIONS with the reason")
    stale = [name for name in LONG_FUNCTIONS if lengths.get(name, 0) <= MAX_FUNCTION_LINES]
    assert not stale, f"LONG_FUNCTIONS names functions that are short now: {stale}; remove them"


# why two: benchmarks may import reports, metrics may not (see ARCHITECTURE.md)
WRITERS = {"reports/files.py", "metrics/cache.py"}


def test_files_are_replaced_atomically_in_two_places_only():
    """Every module writes through reports/files.py (or, in metrics, metrics/cache.py): one
    temp-file-fsync-rename routine each, not one per module."""
    callers = {p.relative_to(ROOT).as_posix()
               for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
               if "os.replace(" in p.read_text() or "os.rename(" in p.read_text()}
    assert callers == WRITERS
