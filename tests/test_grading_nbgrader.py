"""Grading is nbgrader's autograding: its gradebook gives the points, its OverwriteCells the test cells.

The grader's own step (``RunCells``, in place of nbgrader's ``Execute``) turns what each cell did into
notebook outputs; these tests check that nbgrader's ``determine_grade`` scores every kind of outcome as
the grader means it, and that a whole ``Autograde`` run takes the tests from nbgrader's gradebook (hidden
tests included, even when the notebook handed to it has none) and writes its scores there.
"""

import copy

import nbformat
import pytest
from nbgrader.utils import determine_grade
from test_grading_hostile import NAME, POINTS, _release, _solved, _source_notebook

from labcode.grading.autograde import Settings
from labcode.grading.exercise import load_exercise, plan
from labcode.grading.kernel import Execution
from labcode.grading.nbgrader_course import RunCells, autograde, graded_notebook, job_course, make_template, outputs


def _test_cell(outs, points=4):
    meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": points, "grade_id": "t",
                         "schema_version": 3, "task": False}}
    cell = nbformat.v4.new_code_cell("check()", metadata=meta)
    cell.outputs = outs
    return cell


@pytest.mark.parametrize(("run", "expected"), [
    (Execution(), 4),
    (Execution(text="some output\n"), 4),
    (Execution(status="error", ename="AssertionError", evalue="2 != 4"), 0),
    (Execution(status="error", ename="AssertionError"), 0),  # showtraceback disabled: no message, still an error
    (Execution(status="timeout"), 0),
    (Execution(status="stuck"), 0),
    (Execution(status="dead"), 0),
    (Execution(forged=True), 0),
    (Execution(stderr=True, text="a warning\n"), 0),
    (Execution(stderr=True), 0),
    (Execution(result="2.5", text="2.5\n"), 2.5),
    (Execution(result="0"), 0),
    (Execution(result="7"), 4),  # above the maximum: the maximum (nbgrader itself would raise)
    (Execution(result="'not a number'"), 4),
    (Execution(result="nan"), 4),
    (Execution(result=""), 4),
    (Execution(status="error", ename="ValueError", result="3"), 0),
    (None, 0),  # not run (the kernel died before it)
])
def test_nbgrader_scores_what_the_cell_did(run, expected):
    cell = _test_cell(outputs(run, "the kernel died in cell x", 60.0, max_points=4))
    assert determine_grade(cell)[0] == expected
    nbformat.validate(nbformat.v4.new_notebook(cells=[cell]))


def test_an_error_output_says_what_happened():
    (out,) = outputs(None, "the kernel died in cell count (exit status 1)", 60.0)
    assert (out.ename, out.evalue) == ("NotRun", "the kernel died in cell count (exit status 1)")
    (out,) = outputs(Execution(status="timeout"), "", 3.0)
    assert out.ename == "CellTimeoutError" and "3 s" in out.evalue


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    folder = tmp_path_factory.mktemp("source")
    nbformat.write(_source_notebook(), folder / f"{NAME}.ipynb")
    template = make_template([folder / f"{NAME}.ipynb"], tmp_path_factory.mktemp("nbgrader") / "template")
    return folder / f"{NAME}.ipynb", template


def _fake_runner(cells, outcome):
    """A RunCells whose execution step runs no kernel: each cell 'does' outcome(cell)."""
    seen = []

    async def execute(planned):
        seen.extend(planned)
        return {c.label: outcome(c) for c in planned}, ""

    settings = Settings(timeout=5.0, max_output=1000, ignore_pattern=None, hide=())
    return RunCells(cells, execute, settings), seen


def test_autograde_takes_the_tests_from_the_gradebook_and_writes_the_scores_there(course, tmp_path):
    source_path, template = course
    exercise = load_exercise(source_path)
    cells = plan(exercise, _solved())
    # hand nbgrader a notebook whose test cells lost their hidden tests: OverwriteCells must put
    # back the gradebook's versions, and those are what runs
    released = {c.id: c.source for c in _release(_source_notebook()).cells}
    for rc in cells:
        if rc.kind == "test":
            rc.source = released[rc.label]
    failing = {"test_square", "test_halve"}
    runner, seen = _fake_runner(cells, lambda c: Execution(status="error", ename="AssertionError")
                                if c.label in failing else Execution())
    nb = graded_notebook(source_path, cells)
    scores = autograde(job_course(template, str(tmp_path)), NAME, nb, runner)
    ran = {c.label: c.source for c in seen}
    assert all("### BEGIN HIDDEN TESTS" in ran[test] for test in POINTS), ran
    assert scores == {t: (0.0 if t in failing else float(p), float(p)) for t, p in POINTS.items()}
    assert runner.failure is None


def test_the_course_copy_is_fresh_each_time(course, tmp_path):
    """Each job's course is a copy: an earlier job's grades are not in it (re-grading is idempotent)."""
    source_path, template = course
    exercise = load_exercise(source_path)
    for outcome, expected in [(Execution(), float(sum(POINTS.values()))), (Execution(status="dead"), 0.0)]:
        cells = plan(exercise, _solved())
        runner, _ = _fake_runner(cells, lambda c, o=outcome: copy.deepcopy(o))
        scores = autograde(job_course(template, str(tmp_path)), NAME, graded_notebook(source_path, cells), runner)
        assert sum(s for s, _ in scores.values()) == expected


def test_a_failure_of_the_execution_step_is_raised_not_hidden(course, tmp_path):
    source_path, template = course
    cells = plan(load_exercise(source_path), _solved())

    async def broken(planned):
        raise RuntimeError("the kernel did not start")

    runner = RunCells(cells, broken, Settings(timeout=5.0, max_output=1000, ignore_pattern=None, hide=()))
    with pytest.raises(RuntimeError, match="the kernel did not start"):
        autograde(job_course(template, str(tmp_path)), NAME, graded_notebook(source_path, cells), runner)
