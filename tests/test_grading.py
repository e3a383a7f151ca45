"""The graded-exercise pipeline: nbgrader source notebooks, their release, autograding.

One grading run of a folder of made-up students (module-scoped fixture) backs
most tests: a perfect one, a blank one, partial ones, cheaters, broken
notebooks, an infinite loop.
"""

import copy
import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labcode import grading

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
SOURCES = sorted(SOLUTIONS.glob("*.ipynb"))

# 01_autodiff: each part's solution cells and test cells (grade ids)
PARTS = {
    "a": (["sin", "softplus"], ["test_sin_value", "test_sin_grad", "test_softplus"]),
    "b": (["df_dx", "df_dy"], ["test_df_dx", "test_df_dy", "test_df_closed_form"]),
    "c": (["centred_difference", "rel_error"],
          ["test_centred_1d", "test_centred_nd", "test_rel_error", "test_checker_accuracy"]),
}
LOOP_TIMEOUT = 5  # seconds per cell in the grading run below (an infinite loop costs this much)


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _validate(notebooks, *flags) -> dict[str, str]:
    """``nbgrader validate`` on several notebooks in one process (it starts in 2 s): its report per notebook."""
    result = subprocess.run([sys.executable, "-m", "nbgrader", "validate", *flags, *map(str, notebooks)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    chunks = re.split(r"^.*Validating '(.*)'$", result.stdout, flags=re.M)
    return {Path(path).name: text for path, text in zip(chunks[1::2], chunks[2::2], strict=True)}


@pytest.fixture(scope="module")
def validated():
    return _validate(SOURCES)


@pytest.fixture(scope="module")
def validated_release():
    return _validate(sorted(EXERCISES.glob("*.ipynb")), "--invert")


def _nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def _points(notebook):
    """{grade_id: points} of the graded cells of a source notebook."""
    nb = nbformat.read(notebook, as_version=4)
    return {m["grade_id"]: float(m["points"]) for m in map(_nbgrader_meta, nb.cells) if m.get("grade")}


def test_there_are_exercises():
    assert SOURCES, "no notebooks in solutions/"
    assert [p.name for p in sorted(EXERCISES.glob("*.ipynb"))] == [p.name for p in SOURCES]


@pytest.mark.parametrize("notebook", SOURCES, ids=lambda p: p.stem)
def test_solution_passes_nbgrader_validate(validated, notebook):
    report = validated.get(notebook.name, "")
    assert "Success! Your notebook passes all the tests." in report, report or validated


@pytest.mark.parametrize("notebook", SOURCES, ids=lambda p: p.stem)
def test_solution_is_well_formed(notebook):
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    graded = [c for c in nb.cells if _nbgrader_meta(c).get("grade")]
    assert len(graded) >= 3 and all(_nbgrader_meta(c)["points"] > 0 for c in graded)
    assert all("### BEGIN HIDDEN TESTS" in c.source for c in graded), "every test cell has hidden tests"
    assert sum("### BEGIN SOLUTION" in c.source for c in nb.cells) >= 3
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert _nbgrader_meta(setup).get("locked") and "TF_CPP_MIN_LOG_LEVEL" in setup.source
    assert 'warnings.filterwarnings("ignore")' in setup.source


def test_exercises_are_in_sync_with_solutions(tmp_path):
    result = _run("-m", "labcode.grading", "release", "--source", str(SOLUTIONS), "--release", str(tmp_path))
    assert result.returncode == 0, result.stderr
    fresh = sorted(tmp_path.glob("*.ipynb"))
    assert [p.name for p in fresh] == [p.name for p in sorted(EXERCISES.glob("*.ipynb"))]
    for path in fresh:
        assert path.read_bytes() == (EXERCISES / path.name).read_bytes(), (
            f"exercises/{path.name} is out of date: run `make exercises`"
        )


def _secret_lines(notebook):
    """Every line inside a solution region or hidden tests (stripped, 10+ characters).

    Strict: such a line is a secret even if it also appears in a public part of the source
    (instructions, visible tests), so a hidden test must not copy a visible one word for word
    and a solution line must not be spelled out in the instructions.
    """
    secret = set()
    for cell in nbformat.read(notebook, as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            s = line.strip()
            if s in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                inside = True
            elif s in ("### END SOLUTION", "### END HIDDEN TESTS"):
                inside = False
            elif inside and len(s) >= 10:
                secret.add(s)
    return secret


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _strings(v)
    elif isinstance(obj, list) and all(isinstance(x, str) for x in obj):
        yield "".join(obj)  # a multi-line source or output, as nbformat stores it
    elif isinstance(obj, list):
        for x in obj:
            yield from _strings(x)


@pytest.mark.parametrize("notebook", SOURCES, ids=lambda p: p.stem)
def test_release_leaks_no_solution_or_hidden_test(notebook):
    released = EXERCISES / notebook.name
    text = "\n".join(_strings(json.loads(released.read_text(encoding="utf-8"))))  # cells, outputs, metadata
    raw = released.read_text(encoding="utf-8")
    secrets = _secret_lines(notebook)
    assert len(secrets) > 20
    leaked = [s for s in secrets if s in text or json.dumps(s)[1:-1] in raw]
    assert not leaked, leaked
    assert "### BEGIN" not in text and "### END" not in text
    assert text.count("raise NotImplementedError()") >= 3
    nb = json.loads(raw)
    for cell in nb["cells"]:  # nothing run, nothing attached: no solution output can hide there
        assert not cell.get("outputs") and cell.get("execution_count") is None and not cell.get("attachments"), cell


@pytest.mark.parametrize("notebook", sorted(EXERCISES.glob("*.ipynb")), ids=lambda p: p.stem)
def test_release_fails_every_test(validated_release, notebook):
    report = validated_release.get(notebook.name, "")
    assert "Success! The notebook does not pass any tests." in report, report or validated_release


def test_importing_grading_is_light():
    code = "import labcode.grading, sys; assert 'nbgrader' not in sys.modules, 'nbgrader imported'"
    assert _run("-c", code).returncode == 0


def test_clear_errors_for_bad_folders(tmp_path, capsys):
    assert grading.main(["grade", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    assert grading.main(["grade", str(tmp_path / "subs"), "--source", str(tmp_path / "empty")]) == 2
    assert "no notebooks" in capsys.readouterr().err
    assert grading.main(["release", "--source", str(tmp_path / "empty"), "--release", str(tmp_path / "r")]) == 2
    assert grading.main(["grade", str(tmp_path / "empty"), "--source", str(SOLUTIONS)]) == 2
    assert "no student folders" in capsys.readouterr().err
    assert grading.grade_main([str(tmp_path / "subs"), "--source", str(SOLUTIONS), "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err
    assert grading.grade_main([str(tmp_path / "nope")]) == 2  # the labcode-grade console script
    assert "labcode-grade: submissions directory" in capsys.readouterr().err


# ------------------------------------------------------------------ one grading run
def _students(subs: Path):
    """Write SUBMISSIONS/<student>/01_autodiff.ipynb for the made-up students."""
    name = "01_autodiff.ipynb"
    source = nbformat.read(SOLUTIONS / name, as_version=4)
    release = nbformat.read(EXERCISES / name, as_version=4)
    solution = {c.id: c.source for c in source.cells}

    def fill(nb, parts):
        nb = copy.deepcopy(nb)
        for cell in nb.cells:
            if any(cell.id in PARTS[p][0] for p in parts):
                cell.source = solution[cell.id]
        return nb

    def save(student, nb):
        (subs / student).mkdir(parents=True)
        if isinstance(nb, str):
            (subs / student / name).write_text(nb, encoding="utf-8")
        else:
            nbformat.write(nb, subs / student / name)

    save("perfect", source)
    save("blank", release)
    save("half", fill(release, "ab"))
    cheater = fill(release, "a")  # and turns every visible test of (b) and (c) into `pass`
    for cell in cheater.cells:
        if cell.id in PARTS["b"][1] + PARTS["c"][1]:
            cell.source = "pass"
    save("cheater", cheater)
    stripper = fill(release, "a")  # strips the nbgrader metadata of (b)'s tests, which then `pass`
    for cell in stripper.cells:
        if cell.id in PARTS["b"][1]:
            cell.metadata = {}
            cell.source = "pass"
    save("stripper", stripper)
    deleter = copy.deepcopy(source)  # all correct, but deletes (c)'s test cells: they come back and run
    deleter.cells = [c for c in deleter.cells if c.id not in PARTS["c"][1]]
    save("deleter", deleter)
    looper = copy.deepcopy(source)  # (c) never ends: that cell times out, the rest is graded
    next(c for c in looper.cells if c.id == "centred_difference").source = "while True:\n    pass"
    save("looper", looper)
    raiser = copy.deepcopy(release)  # an exception in a cell of its own, and (a) right
    raiser = fill(raiser, "a")
    raiser.cells.insert(2, nbformat.v4.new_code_cell("raise RuntimeError('oops')"))
    save("raiser", raiser)
    tflog = copy.deepcopy(source)  # a TensorFlow-style C++ log line on stderr in every test of (a)
    cell = next(c for c in tflog.cells if c.id == "sin")
    cell.source = ("import sys\n_log = '2024-05-01 12:00:00.123456: I tensorflow/core/util/port.cc:153] oneDNN on.'\n"
                   + cell.source.replace('"""sin x as', 'print(_log, file=sys.stderr)\n    """sin x as', 1))
    assert "print(_log" in cell.source
    save("tflog", tflog)
    save("garbage", "{this is not a notebook")
    save("swapped", nbformat.read(SOLUTIONS / "02_backprop.ipynb", as_version=4))  # 02's notebook as 01's name
    (subs / "absent").mkdir()  # submitted nothing
    (subs / "renamed").mkdir()  # a browser's download name
    shutil.copyfile(SOLUTIONS / name, subs / "renamed" / "01_autodiff (1).ipynb")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    subs = tmp_path_factory.mktemp("submissions")
    _students(subs)
    source = tmp_path_factory.mktemp("source")  # this run is about 01_autodiff only
    shutil.copyfile(SOLUTIONS / "01_autodiff.ipynb", source / "01_autodiff.ipynb")
    result = _run("-m", "labcode.grading", "grade", str(subs), "--source", str(source),
                  "--timeout", str(LOOP_TIMEOUT))
    assert result.returncode == 0, result.stdout + result.stderr
    with open(subs / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return subs, rows, result.stdout


def _total(rows, student):
    return sum(float(r["points"]) for r in rows if r["student"] == student)


def _points_of(*parts):
    points = _points(SOLUTIONS / "01_autodiff.ipynb")
    return sum(points[t] for p in parts for t in PARTS[p][1])


def test_grades_csv_has_one_row_per_student_and_test_cell(graded):
    subs, rows, _ = graded
    with open(subs / "grades.csv", encoding="utf-8") as fh:
        assert fh.readline().strip() == "student,exercise,part,points,max_points,status,reason"
    points = _points(SOLUTIONS / "01_autodiff.ipynb")
    students = sorted({r["student"] for r in rows})
    assert students == sorted(p.name for p in subs.iterdir() if p.is_dir())
    for student in students:
        mine = [r for r in rows if r["student"] == student]
        assert [r["part"] for r in mine] == list(points), student
        assert all(r["exercise"] == "01_autodiff" for r in mine)
        assert [float(r["max_points"]) for r in mine] == list(points.values())


@pytest.mark.parametrize(("student", "parts", "also"), [
    ("perfect", "abc", []),
    ("blank", "", []),
    ("half", "ab", []),
    ("cheater", "a", []),  # edited visible tests are restored from the source
    ("stripper", "a", []),  # so are test cells whose nbgrader metadata was removed
    ("deleter", "abc", []),  # deleted test cells come back, and run
    ("looper", "ab", ["test_rel_error"]),  # the looping cell times out; the rest is graded
    ("raiser", "a", []),
    ("tflog", "abc", []),  # TensorFlow's C++ log lines on stderr don't fail a test
])
def test_scores(graded, student, parts, also):
    _, rows, _ = graded
    mine = [r for r in rows if r["student"] == student]
    assert all(r["status"] == "graded" for r in mine), mine
    passing = {t for p in parts for t in PARTS[p][1]} | set(also)
    for r in mine:
        assert float(r["points"]) == (float(r["max_points"]) if r["part"] in passing else 0.0), r
    assert _total(rows, student) == _points_of(*parts) + sum(float(r["max_points"]) for r in mine if r["part"] in also)


def test_perfect_is_full_marks(graded):
    _, rows, _ = graded
    assert _total(rows, "perfect") == sum(_points(SOLUTIONS / "01_autodiff.ipynb").values()) == 10


@pytest.mark.parametrize(("student", "status", "reason"), [
    ("garbage", "unreadable", "not valid JSON"),
    ("absent", "missing", "no file absent/01_autodiff.ipynb"),
    ("renamed", "missing", "no file renamed/01_autodiff.ipynb (found 01_autodiff (1).ipynb)"),
    ("swapped", "wrong-exercise", "this is a notebook of another exercise, not 01_autodiff's"),
])
def test_unreadable_or_missing_notebook_scores_zero(graded, student, status, reason):
    _, rows, _ = graded
    mine = [r for r in rows if r["student"] == student]
    assert mine and all(r["status"] == status and r["reason"].startswith(reason) and float(r["points"]) == 0
                        for r in mine), mine


def test_a_notebook_of_another_exercise_is_named():
    from labcode.grading.exercise import belongs_to, load_exercise, read_submission

    ex1, ex2 = load_exercise(SOLUTIONS / "01_autodiff.ipynb"), load_exercise(SOLUTIONS / "02_backprop.ipynb")
    for path, exercise, expected in [(EXERCISES / "02_backprop.ipynb", ex1, "02_backprop"),
                                     (EXERCISES / "01_autodiff.ipynb", ex1, None),
                                     (EXERCISES / "01_autodiff.ipynb", ex2, "01_autodiff")]:
        assert belongs_to(read_submission(path.read_bytes()), exercise, [ex1, ex2]) == expected, (path, exercise.name)


def test_reasons_and_review(graded):
    subs, rows, _ = graded
    reasons = {(r["student"], r["part"]): r["reason"] for r in rows}
    assert reasons["perfect", "test_sin_value"] == "passed"
    assert reasons["blank", "test_sin_value"] == "failed: NotImplementedError"
    assert reasons["looper", "test_centred_1d"] == "failed: NameError: name 'centred_difference' is not defined"
    with open(subs / "review.csv", newline="", encoding="utf-8") as fh:
        review = list(csv.DictReader(fh))
    flagged = {r["student"] for r in review}
    assert {"cheater", "stripper", "deleter"} <= flagged and not flagged & {"perfect", "tflog", "looper", "half"}
    assert any(r["student"] == "deleter" and "test_centred_1d (deleted)" in r["note"] for r in review)


def test_feedback_and_summary(graded):
    subs, rows, stdout = graded
    page = (subs / "perfect" / "feedback" / "01_autodiff.html").read_text(encoding="utf-8")
    assert "test_sin_value" in page and "sin gives the right value" in page and "Score: <b>10 / 10</b>" in page
    page = (subs / "looper" / "feedback" / "01_autodiff.html").read_text(encoding="utf-8")
    assert f"cell centred_difference ran over the {LOOP_TIMEOUT} s limit" in page
    secrets = _secret_lines(SOLUTIONS / "01_autodiff.ipynb")
    for page in subs.glob("*/feedback/01_autodiff.html"):  # no hidden test, no solution in any feedback
        text = page.read_text(encoding="utf-8")
        assert not [s for s in secrets if s in text or html.escape(s) in text], page
    assert re.search(r"^perfect\s+10/10\s+10/10$", stdout, re.M), stdout
    assert re.search(r"^blank\s+0/10\s+0/10$", stdout, re.M), stdout
    assert re.search(r"^absent\s+\*0/10", stdout, re.M), stdout


def test_grades_against_the_source_it_is_given(tmp_path):
    """An instructor's private copy: its hidden tests count, not those in the student's file."""
    private = tmp_path / "private"
    private.mkdir()
    nb = nbformat.read(SOLUTIONS / "01_autodiff.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.id == "test_sin_value")
    cell.source = cell.source.replace("### END HIDDEN TESTS", "assert False, 'private'\n### END HIDDEN TESTS")
    nbformat.write(nb, private / "01_autodiff.ipynb")
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    shutil.copyfile(SOLUTIONS / "01_autodiff.ipynb", tmp_path / "subs" / "alice" / "01_autodiff.ipynb")
    rows = grading.grade(tmp_path / "subs", private, feedback=False, echo=lambda *args: None)
    assert {r["part"]: r["points"] for r in rows if r["points"] < r["max_points"]} == {"test_sin_value": 0.0}
    assert sum(r["points"] for r in rows) == 9
