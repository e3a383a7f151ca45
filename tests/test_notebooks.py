"""Static checks on every notebook: stored clean, seeded, never shadowing labcode.

nbval executes them (see pyproject's testpaths); these checks are about how
they are stored and written.
"""

import ast
import json
from pathlib import Path

import pytest

import labcode.autodiff
import labcode.gradcheck

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for d in ("chapters", "solutions", "exercises") for p in (ROOT / d).glob("*.ipynb"))
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
PUBLIC = {
    name
    for module in (labcode, labcode.autodiff, labcode.gradcheck)
    for name in getattr(module, "__all__", [])
}


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell):
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def test_there_are_notebooks():
    assert CHAPTERS, "chapters/ has no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_stored_without_outputs(path):
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} has outputs"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_is_seeded_and_never_redefines_labcode(path):
    code = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "code")
    assert "labcode.seed(" in code or "seed(" in code, "chapters seed everything with labcode.seed(n)"
    for cell in _cells(path):
        if cell["cell_type"] != "code":
            continue
        lines = [ln for ln in _source(cell).splitlines() if not ln.lstrip().startswith(("%", "!"))]
        tree = ast.parse("\n".join(lines))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                assert node.name not in PUBLIC, f"a cell redefines labcode's {node.name}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_the_teaching_structure(path):
    text = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown").lower()
    for part in ("objectives", "summary", "exercise"):
        assert part in text, f"{path.name} has no {part!r} section"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text), "a term's first mention carries its Chinese name"
