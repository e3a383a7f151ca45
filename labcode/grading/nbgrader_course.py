"""nbgrader's autograding of one submission, with the grader's cell runner inside it.

Every submission is graded by nbgrader's own ``Autograde`` converter (what
``nbgrader autograde`` runs) in a throw-away nbgrader course directory of its
own, copied from a template made once per grading run
(:func:`make_template`: nbgrader's ``generate_assignment`` of every source
notebook, which records the source cells, hidden tests included, in the
course's gradebook). nbgrader's two passes run unchanged but for one step:

- sanitize: ``ClearOutput``, ``DeduplicateIds``, ``OverwriteKernelspec``,
  ``OverwriteCells`` (test and locked cells rewritten from the gradebook),
  ``CheckCellMetadata``;
- autograde: :class:`RunCells` *in place of* nbgrader's ``Execute``, then
  ``IgnorePattern``, ``ClearMetadataPreprocessor``, ``LimitOutput``,
  ``SaveAutoGrades`` (the points: ``nbgrader.utils.determine_grade``, an error
  or stderr output scores 0, a number as result is partial credit),
  ``AssignLatePenalties``, ``CheckCellMetadata``.

The points in grades.csv are the ones nbgrader writes to the gradebook.

Why our own execution step: nbgrader's ``Execute`` (nbclient) runs the notebook
in its own folder, fails the whole notebook when the kernel dies, hangs or
gives up on a kernel that ignores the interrupt, keeps everything a cell
prints, and cannot undo monkey-patching between cells. :class:`RunCells` runs
the cells with :mod:`.kernel` (fresh kernel in an empty folder of its own,
per-cell timeout, death noticed, output capped) and :mod:`.guard` (patches put
back before every test cell), then writes what happened as ordinary notebook
outputs, so that nbgrader scores it by its own rule.

What nbgrader gets as the submission is the notebook the grader will run
(:func:`exercise.plan`: the source's setup first, deleted test cells put back,
cells matched by grade id or cell id); ``OverwriteCells`` then rewrites the
trusted cells from the gradebook once more.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import shutil
import tempfile
import warnings
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor

from .errors import GradingError
from .exercise import names
from .release import alembic_on_path, check, course_config

STUDENT = "student"  # the student id inside a job's own course directory (one student per course)


def make_template(sources: list[Path], root: Path) -> Path:
    """A course directory with every source notebook generated into its gradebook; returns its path."""
    from nbgrader.apps import NbGraderAPI

    root = Path(root)
    for nb in sources:
        (root / "source" / nb.stem).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb, root / "source" / nb.stem / nb.name)
    with alembic_on_path(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's and nbformat's warnings about nbgrader's internals
        api = NbGraderAPI(config=course_config(root, database=True))
        for nb in sources:
            check(api.generate_assignment(nb.stem), f"generate_assignment {nb.stem}")
    shutil.rmtree(root / "release", ignore_errors=True)  # the student version: not needed to grade
    return root


def graded_notebook(source_path: Path, cells):
    """The notebook nbgrader autogrades: the planned cells, each with its source cell's nbgrader metadata."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    source = nbformat.read(source_path, as_version=4)
    meta = {}
    for cell in source.cells:
        grade_id = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        for key in (grade_id, cell.get("id")):
            if key and key not in meta:
                meta[key] = cell.metadata
    nb = new_notebook(metadata=copy.deepcopy(source.metadata))
    for rc in cells:
        metadata = copy.deepcopy(meta[rc.label]) if rc.kind != "added" and rc.label in meta else {}
        nb.cells.append(new_code_cell(rc.source, metadata=metadata))
    return nb


def autograde(course: Path, exercise: str, notebook, runner) -> dict[str, tuple[float, float]]:
    """nbgrader's Autograde of ``notebook`` in ``course`` with ``runner`` as its execution step.

    Returns {grade_id: (score, max score)} as nbgrader's gradebook has them.
    """
    import nbformat
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )
    from nbgrader.utils import capture_log, temp_attrs

    folder = course / "submitted" / STUDENT / exercise
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / f"{exercise}.ipynb")
    config = course_config(course, database=True)
    config.IgnorePattern.pattern = runner.settings.ignore_pattern or ""
    with alembic_on_path(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = NbGraderAPI(config=config)
        with temp_attrs(api.coursedir, assignment_id=exercise, student_id=STUDENT):
            app = Autograde(coursedir=api.coursedir, parent=api)
            app.force = True
            app.create_student = True
            app.autograde_preprocessors = [runner, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                           SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
            outcome = capture_log(app)
        if runner.failure is not None:  # the grader's own step failed: its error, not nbgrader's wrapper
            raise runner.failure
        check(outcome, f"autograde {exercise}")
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            submitted = gb.find_submission_notebook(exercise, exercise, STUDENT)
            return {g.name: (g.auto_score, g.max_score) for g in submitted.grades}


class RunCells(NbGraderPreprocessor):
    """nbgrader's execution step, done by the grader's kernel and guard (see the module docstring).

    ``execute(cells)`` is a coroutine function that runs the planned cells and returns
    ``{label: Execution}`` and why the notebook stopped early ("" if it did not).
    """

    def __init__(self, cells, execute, settings, **kwargs):
        super().__init__(**kwargs)
        self.cells = list(cells)
        self.execute = execute
        self.settings = settings
        self.runs: dict = {}
        self.stopped = ""
        self.failure: BaseException | None = None

    def preprocess(self, nb, resources):
        code = [c for c in nb.cells if c.cell_type == "code"]
        if len(code) != len(self.cells):
            self.failure = GradingError(f"nbgrader's sanitized notebook has {len(code)} code cells, "
                                        f"the grader planned {len(self.cells)}")
            raise self.failure
        for i, (cell, rc) in enumerate(zip(code, self.cells, strict=True)):
            if cell.source != rc.source:  # nbgrader's OverwriteCells rewrote it from the gradebook: run that
                refs, binds = names(cell.source)
                self.cells[i] = dataclasses.replace(rc, source=cell.source, refs=refs, binds=binds)
        try:
            self.runs, self.stopped = asyncio.run(self.execute(self.cells))
        except BaseException as e:
            self.failure = e
            raise
        for cell, rc in zip(code, self.cells, strict=True):
            if not rc.source.strip():
                continue
            run = self.runs.get(rc.label)
            points = (cell.metadata.get("nbgrader") or {}).get("points") if rc.kind == "test" else None
            cell.outputs = outputs(run, self.stopped, self.settings.timeout, points)
            cell.execution_count = run.execution_count if run is not None else None
        return nb, resources


def outputs(run, stopped: str, timeout: float, max_points: float | None = None) -> list:
    """A cell's notebook outputs from what it did: what nbgrader's ``determine_grade`` reads.

    An error output for anything that is not a clean finish (an error, a timeout, a dead kernel, a
    forged reply, not run at all); the text it printed (a ``stderr`` stream if it wrote to stderr
    outside the ignore pattern); its result, which is partial credit when it is a number. For a test
    cell (``max_points`` given) a result above the maximum is cut to it: nbgrader would stop grading
    the whole notebook on it (``get_partial_grade`` raises).
    """
    from nbformat.v4 import new_output

    def error(ename, evalue, traceback=()):
        return new_output("error", ename=ename, evalue=evalue, traceback=list(traceback) or [f"{ename}: {evalue}"])

    if run is None:
        return [error("NotRun", stopped or "this cell was not run")]
    out = []
    if run.status in ("timeout", "stuck"):
        out.append(error("CellTimeoutError", f"the cell ran over the {timeout:g} s limit"))
    elif run.status == "dead":
        out.append(error("DeadKernelError", stopped or "the kernel died"))
    elif run.forged:
        out.append(error("ForgedReply", "the kernel answered twice for this cell"))
    elif run.status == "error" or run.ename:
        out.append(error(run.ename or "Error", run.evalue, run.traceback))
    if run.text:
        out.append(new_output("stream", name="stderr" if run.stderr else "stdout", text=run.text))
    elif run.stderr:
        out.append(new_output("stream", name="stderr", text="(output on stderr)\n"))
    result = run.result if max_points is None else capped(run.result, max_points)
    if result:  # nbgrader cannot read an empty text/plain
        out.append(new_output("execute_result", data={"text/plain": result}, execution_count=run.execution_count))
    return out


def capped(result: str | None, max_points: float) -> str | None:
    """A test cell's value as nbgrader may read it: a number above ``max_points`` becomes ``max_points``."""
    try:
        return f"{float(max_points):g}" if result is not None and float(result) > float(max_points) else result
    except ValueError:
        return result


def partial_credit(result: str, max_points: float) -> float:
    """The points nbgrader gives a test cell whose value is ``result`` (``get_partial_grade``, capped)."""
    from nbgrader.utils import get_partial_grade

    text = capped(result, max_points)
    return float(get_partial_grade({"data": {"text/plain": text}}, max_points)) if text else float(max_points)


def job_course(template: Path, root: str | None) -> Path:
    """A fresh copy of the template course, in a folder of its own under ``root``."""
    course = Path(tempfile.mkdtemp(prefix="course-", dir=root))
    shutil.copytree(template, course, dirs_exist_ok=True)
    return course
