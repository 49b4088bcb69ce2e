"""The layers of DESIGN.md hold: api → drafter → knowledge, prompts → core, nothing imports upward,
and the application never imports its benchmark harness.

Every import statement counts, wherever it stands (module top, inside a function, under
``TYPE_CHECKING``): a lazy import upward is still a dependency upward.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The rank of each top-level package: a package may import its own rank's modules and lower ranks,
# except its siblings (knowledge and prompts know nothing of each other).
RANK = {"core": 0, "knowledge": 1, "prompts": 1, "drafter": 2, "api": 3, "benchmarks": 4}
APP = ("core", "knowledge", "prompts", "drafter", "api")  # what ships; never imports benchmarks or tests


def _imports(root: Path, path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = list(path.relative_to(root).parts[:-1])  # a module's package; an __init__'s is its own
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # "from ..x import y": up level-1 packages from this module's own
                base = package[:len(package) - (node.level - 1)]
                yield node.lineno, ".".join([*base, *([node.module] if node.module else [])])
            elif node.module:
                yield node.lineno, node.module


def violations(root: Path) -> list[str]:
    """Every import from a lower layer to a higher one, between siblings, or from the app to benchmarks/tests."""
    found = []
    for package, rank in RANK.items():
        pkg_dir = root / package
        if not pkg_dir.is_dir():
            continue
        for path in sorted(pkg_dir.rglob("*.py")):
            for line, module in _imports(root, path):
                top = module.split(".")[0]
                where = f"{path.relative_to(root)}:{line}"
                if top == package:
                    continue
                if package in APP and top in ("benchmarks", "tests"):
                    found.append(f"{where} imports {module}: the application never imports {top}")
                elif top in RANK and RANK[top] > rank:
                    found.append(f"{where} imports {module}: {package} is below {top}")
                elif top in RANK and RANK[top] == rank:
                    found.append(f"{where} imports {module}: {package} and {top} are siblings")
    return found


def test_no_import_goes_up_a_layer_or_into_benchmarks() -> None:
    assert violations(ROOT) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("name,text,needle", [
    ("core/db.py", "from api.app import create_app\n", "core/db.py:1 imports api.app: core is below api"),
    ("knowledge/store.py", "def f():\n    import drafter.pipeline\n",
     "knowledge/store.py:2 imports drafter.pipeline: knowledge is below drafter"),
    ("drafter/x.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from api.container import Container\n",
     "drafter/x.py:3 imports api.container: drafter is below api"),
    ("api/cli.py", "def bench():\n    from benchmarks.drafts import run_bench\n",
     "api/cli.py:2 imports benchmarks.drafts: the application never imports benchmarks"),
    ("knowledge/y.py", "from prompts.loader import load_prompt\n", "knowledge and prompts are siblings"),
    ("prompts/z.py", "import knowledge.store as s\n", "prompts and knowledge are siblings"),
    ("core/sub/w.py", "from ...api import app\n", "core/sub/w.py:1 imports api: core is below api"),
])
def test_the_check_catches_an_upward_import(tmp_path: Path, name: str, text: str, needle: str) -> None:
    root = _tree(tmp_path, {name: text})
    found = violations(root)
    assert len(found) == 1 and needle in found[0], found


def test_the_check_allows_what_the_design_allows(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "api/a.py": "from drafter.pipeline import run\nfrom knowledge.store import KnowledgeStore\nimport core.db\n",
        "drafter/b.py": "from knowledge.retrieve import Retriever\nfrom prompts.loader import load_prompt\n"
                        "from . import c\nfrom .c import d\n",
        "knowledge/c.py": "from core.errors import NotFound\nimport numpy\n",
        "benchmarks/e.py": "from api.container import Container\nfrom benchmarks.drafts import run_bench\n",
    })
    assert violations(root) == []
