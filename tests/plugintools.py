"""Plugin files for the tests, written outside the package: the manual's own example (so the
copy-paste example is what the tests train) and deliberately broken variants of it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_plugin() -> str:
    """The plugin file of the "Your own model" page's heredoc, as a user would copy it."""
    text = (ROOT / "docs" / "own-model.md").read_text()
    found = re.search(r"cat > my_model\.py <<'EOF'\n(.*?)\nEOF\n", text, re.S)
    assert found, "docs/own-model.md lost its 'cat > my_model.py' example"
    return found.group(1) + "\n"


def write(folder: Path, source: str, name: str = "my_model.py") -> Path:
    path = folder / name
    path.write_text(source)
    return path


def broken(folder: Path, model: str, method: str, name: str) -> Path:
    """The manual's model registered as ``model``, with ``method`` (a def, unindented) added
    to its class, replacing the one of that name it inherits."""
    source = readme_plugin().replace('@register("mine")', f'@register("{model}")')
    body = "".join(f"    {line}\n" if line else "\n" for line in method.strip("\n").split("\n"))
    return write(folder, source.rstrip("\n") + "\n\n" + body, name)
