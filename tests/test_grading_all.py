"""Every graded exercise, end to end: the solution scores full marks, the untouched
release scores 0, and a half-done notebook gets exactly the points of its done parts.

Exercises follow one layout (checked here): each part's solution cells come
before that part's test cells, and a test depends only on solutions above it.
Filling the first half of the solution cells must then earn exactly the points
of the test cells that come before the next unfilled solution cell.
"""

import csv
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = ROOT / "exercises"


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


def _layout(notebook):
    """Solution cell ids, and for each test cell (grade id, points, how many solution cells precede it)."""
    nb = nbformat.read(notebook, as_version=4)
    solutions, tests = [], []
    for cell in nb.cells:
        m = _meta(cell)
        if m.get("solution"):
            solutions.append(cell.id)
        elif m.get("grade") and cell.cell_type == "code":
            tests.append((m["grade_id"], float(m["points"]), len(solutions)))
    return solutions, tests


def _half(notebook):
    """The release with its first half of solution cells filled in, and the points that earns."""
    solutions, tests = _layout(notebook)
    k = len(solutions) // 2
    source = {c.id: c.source for c in nbformat.read(notebook, as_version=4).cells}
    nb = nbformat.read(EXERCISES / notebook.name, as_version=4)
    for cell in nb.cells:
        if cell.id in solutions[:k]:
            cell.source = source[cell.id]
    return nb, sum(points for _, points, before in tests if before <= k)


@pytest.mark.parametrize("notebook", SOURCES, ids=lambda p: p.stem)
def test_layout(notebook):
    solutions, tests = _layout(notebook)
    assert len(solutions) >= 3 and len(tests) >= 3, "at least three graded parts"
    assert all(before > 0 for _, _, before in tests), "a test cell before any solution cell"
    assert sum(p for _, p, _ in tests) > 0


@pytest.fixture(scope="module")
def grades(tmp_path_factory):
    subs = tmp_path_factory.mktemp("subs")
    expected = {}
    for notebook in SOURCES:
        half, points = _half(notebook)
        total = sum(p for _, p, _ in _layout(notebook)[1])
        for student, nb in [("perfect", nbformat.read(notebook, as_version=4)),
                            ("blank", nbformat.read(EXERCISES / notebook.name, as_version=4)),
                            ("half", half)]:
            (subs / student).mkdir(exist_ok=True)
            nbformat.write(nb, subs / student / notebook.name)
        expected[notebook.stem] = {"perfect": total, "blank": 0.0, "half": points}
    result = subprocess.run([sys.executable, "-m", "labcode.grading", "grade", str(subs), "--no-feedback"],
                            cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(subs / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return rows, expected


@pytest.mark.parametrize("notebook", SOURCES, ids=lambda p: p.stem)
@pytest.mark.parametrize("student", ["perfect", "blank", "half"])
def test_scores(grades, notebook, student):
    rows, expected = grades
    mine = [r for r in rows if r["student"] == student and r["exercise"] == notebook.stem]
    assert mine and all(r["status"] == "graded" for r in mine)
    assert sum(float(r["points"]) for r in mine) == expected[notebook.stem][student]
    if student == "half":
        assert 0 < expected[notebook.stem]["half"] < expected[notebook.stem]["perfect"]
