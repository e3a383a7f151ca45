"""Grade one submitted notebook with nbgrader's autograding; every failure of the submission becomes a row.

``grade_job`` checks the file (missing, changed, unreadable, another
exercise's), plans the cells to run (:func:`exercise.plan`) and hands the
notebook to nbgrader's ``Autograde`` (:mod:`.nbgrader_course`), whose execution
step runs the cells here (:func:`_execute`: a fresh kernel, the guard, the time
limit). The points are nbgrader's (``nbgrader.utils.determine_grade``: a test
cell earns its points unless it raised an error or wrote to stderr, minus
stderr matching the ignore pattern; a cell whose source ends with an expression
gets that value as partial credit); the reason in each row (passed, failed in
the hidden tests, timed out, not run because the kernel died…) is read from
what the cell did. The outcome is taken from the kernel's messages as they
arrive, so a submission that clears outputs or disables tracebacks does not
hide an error.
"""

from __future__ import annotations

import ast
import hashlib
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import GradingError
from .exercise import Exercise, Job, Part, RunCell, Unreadable, belongs_to, plan, read_submission
from .kernel import Execution, Kernel, kernel_env

GUARD_TIMEOUT = 30.0  # seconds for one of the guard's own requests


@dataclass(frozen=True)
class Settings:
    timeout: float
    max_output: int
    ignore_pattern: str | None
    hide: tuple[str, ...]  # folders the kernel's environment must not name (source, submissions)
    guard: bool = True
    tmpdir: str | None = None  # where jobs make their folders (the run's folder: the main process cleans it)
    template: str | None = None  # the nbgrader course every job's course directory is copied from
    courses: str | None = None  # where jobs make their course directories (apart from the kernels' folders)


@dataclass
class PartResult:
    part: str
    points: float
    max_points: float
    reason: str
    hidden: bool = False  # it failed in the hidden tests
    detail: str = ""  # what the student may see: the visible test's error, or what happened


@dataclass
class Result:
    student: str
    exercise: str
    status: str  # graded | missing | unreadable | wrong-exercise | error
    reason: str
    parts: list[PartResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the student's feedback: what happened to their cells
    review: list[str] = field(default_factory=list)  # for the instructor: what the guard had to put back

    @property
    def points(self) -> float:
        return sum(p.points for p in self.parts)


def _zero(job: Job, status: str, reason: str) -> Result:
    ex = job.exercise
    parts = [PartResult(p.grade_id, 0.0, p.points, reason) for p in ex.parts]
    parts += [PartResult(gid, 0.0, pts, reason) for gid, pts in ex.manual]
    return Result(job.student, ex.name, status, reason, parts)


def grade_job(job: Job, settings: Settings, workdir: str | None = None) -> Result:
    """Grade one notebook; every failure of the submission becomes a status, never an exception.

    ``workdir``: an empty folder (made if missing) for the kernel's files; by default a temporary one.
    """
    if job.digest is None:
        known = {f"{ex.name}.ipynb" for ex in job.others}
        found = sorted(p.name for p in Path(job.path).parent.glob("*.ipynb") if p.name not in known)
        return _zero(job, "missing", f"no file {job.student}/{job.exercise.name}.ipynb"
                     + (f" (found {', '.join(found)})" if found else ""))
    try:
        data = Path(job.path).read_bytes()
    except OSError as e:
        return _zero(job, "error", f"cannot read the file ({e.strerror})")
    if hashlib.sha256(data).hexdigest() != job.digest:
        return _zero(job, "error", "the file changed while the submissions were being graded")
    try:
        nb = read_submission(data)
    except Unreadable as e:
        return _zero(job, "unreadable", str(e))
    other = belongs_to(nb, job.exercise, job.others)
    if other is not None:
        what = f"{other}'s notebook" if other else "a notebook of another exercise"
        return _zero(job, "wrong-exercise", f"this is {what}, not {job.exercise.name}'s")
    cells = plan(job.exercise, nb)
    if settings.template is None:
        raise GradingError("no nbgrader course template (grade() makes one: make_template)")
    from .nbgrader_course import RunCells, autograde, graded_notebook, job_course

    ex = job.exercise
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="labcode-grade-", dir=settings.tmpdir))
    course = None
    try:
        (folder / "work").mkdir(parents=True)
        course = job_course(Path(settings.template), settings.courses)
        result = Result(job.student, ex.name, "graded", "")

        async def execute(planned):
            return await _execute(job, planned, folder, settings, result)

        runner = RunCells(cells, execute, settings)
        scores = autograde(course, ex.name, graded_notebook(course / "source" / ex.name / f"{ex.name}.ipynb", cells),
                           runner)
        _score_all(result, job, runner.cells, runner.runs, runner.stopped, scores, settings, folder)
        return result
    except Exception as e:  # the kernel did not start, or the grader itself failed: say so, go on
        return _zero(job, "error", f"grader error: {type(e).__name__}: {_clean(str(e), folder)}"[:300])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if course is not None:
            shutil.rmtree(course, ignore_errors=True)


async def _execute(job: Job, cells: list[RunCell], workdir: Path, settings: Settings, result: Result):
    """Run the planned cells in a fresh kernel with the guard; returns ({label: Execution}, why it stopped early)."""
    ex = job.exercise
    runs: dict[str, Execution] = {}
    hook = "_grader_" + secrets.token_hex(8)  # not guessable in advance
    env = kernel_env(workdir, [Path(p) for p in settings.hide])
    lead = next((i for i, c in enumerate(cells) if not c.trusted), len(cells))
    stopped = ""  # why the rest of the notebook did not run
    async with Kernel(workdir, env, max_output=settings.max_output, ignore_pattern=settings.ignore_pattern) as k:
        guard = settings.guard
        for index, cell in enumerate(cells):
            if index == lead and guard:
                guard = await _guard(k, result, "install", _install_code(hook, ex, cells[:lead]))
            if k.dead:
                break
            if cell.trusted and guard and index >= lead:
                await _guard(k, result, cell.label, f"__import__('sys').modules[{hook!r}].before({cell.refs!r})")
            if not cell.source.strip():
                continue
            run = await k.run(cell.source, settings.timeout)
            runs[cell.label] = run
            if cell.trusted and guard and index >= lead and not k.dead:
                await _guard(k, result, cell.label, f"__import__('sys').modules[{hook!r}].after({cell.binds!r})")
            if run.status in ("dead", "stuck"):
                stopped = _stop_reason(cell, run, settings, k)
            _note(result, cell, run, settings, workdir)
        if not k.dead:  # a last request: its reply comes after everything before it has really finished
            await k.run("", GUARD_TIMEOUT, silent=True)
        if k.dead and not stopped:
            stopped = f"the kernel died ({k.exit_reason()})"
    return runs, stopped


def _score_all(result: Result, job: Job, cells: list[RunCell], runs: dict, stopped: str, scores: dict,
               settings: Settings, workdir: Path) -> None:
    """The parts' rows: points from nbgrader's gradebook, the reason from what each test cell did."""
    if stopped:
        result.notes.append(stopped + "; the cells after it were not run")
    forged = [label for label, run in runs.items() if run.forged]
    if forged:
        result.review.append("the kernel sent a second reply (the first was forged) for: " + ", ".join(forged))
    restored = [c for c in cells if c.kind == "test" and c.restored]
    if restored:
        result.review.append("test cells restored from the source: "
                             + ", ".join(f"{c.label} ({c.restored})" for c in restored))
    for part in job.exercise.parts:
        row = _score(part, runs.get(part.grade_id), stopped, settings, workdir)
        score = scores.get(part.grade_id, (None, part.points))[0]
        if score is None:
            row = PartResult(part.grade_id, 0.0, part.points, "nbgrader recorded no grade for this cell")
        elif score != row.points:  # the reason below is the grader's reading; the points are nbgrader's
            result.review.append(f"{part.grade_id}: nbgrader scored {score:g}, the grader's reading {row.points:g}")
            row.points = float(score)
        result.parts.append(row)
    for grade_id, points in job.exercise.manual:
        result.parts.append(PartResult(grade_id, 0.0, points, "manually graded: not scored by the autograder"))


def _install_code(hook: str, ex: Exercise, lead: list[RunCell]) -> str:
    """An expression that installs the guard (see guard.py)."""
    source = Path(__file__).with_name("guard.py").read_text(encoding="utf-8")
    binds = sorted({name for c in lead for name in c.binds})
    return (f"(lambda g: (exec(compile({source!r}, '<grader guard>', 'exec'), g), "
            f"g['install']({hook!r}, {list(ex.roots)!r}, {binds!r}))[1])({{'__name__': {hook!r}}})")


async def _guard(k: Kernel, result: Result, label: str, expression: str) -> bool:
    """Evaluate one of the guard's calls; False (and a review note) if it failed.

    The call goes in ``user_expressions``, which the kernel evaluates with ``eval`` after the (empty)
    cell: IPython's input and AST transformers, which a submission may have replaced, never see it.
    """
    run = await k.run("", GUARD_TIMEOUT, silent=True, expressions={"r": expression})
    value = run.expressions.get("r", {})
    if run.status != "ok" or value.get("status") != "ok":
        why = f"{value.get('ename', run.ename or run.status)}: {value.get('evalue', run.evalue)}"
        result.review.append(f"grader guard failed at {label}: {why}"[:300])
        return False
    text = value.get("data", {}).get("text/plain", "")
    try:
        put = ast.literal_eval(text) if text else None
    except (ValueError, SyntaxError):
        put = None
    if isinstance(put, list) and put:
        result.review.append(f"put back before {label}: " + ", ".join(sorted(set(map(str, put)))))
    return True


def _stop_reason(cell: RunCell, run: Execution, settings: Settings, k: Kernel) -> str:
    where = f"cell {cell.label}"
    if run.status == "stuck":
        return (f"{where} ran over the {settings.timeout:g} s limit and did not stop when interrupted, "
                "so the kernel was stopped")
    return f"the kernel died in {where} ({k.exit_reason()})"


def _note(result: Result, cell: RunCell, run: Execution, settings: Settings, workdir: Path) -> None:
    """Notes for the feedback about the student's own cells, and about output cut short."""
    if run.output_chars > settings.max_output:
        result.notes.append(f"cell {cell.label} printed {run.output_chars:,} characters of output; "
                            f"only the first {settings.max_output:,} were kept")
    if cell.trusted:
        return
    if run.status == "timeout":
        result.notes.append(f"cell {cell.label} ran over the {settings.timeout:g} s limit and was interrupted")
    elif run.status == "error":
        result.notes.append(f"cell {cell.label} raised {run.ename}: {_clean(run.evalue, workdir)}"[:300])


def _clean(text: str, workdir: Path) -> str:
    """Messages without the run's temporary paths (so that re-grading gives the same bytes)."""
    text = text.replace(str(workdir / "work"), "<workdir>").replace(str(workdir), "<grader>")
    return re.sub(r"\s+", " ", text).strip()


_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")


def _hidden(part: Part, run: Execution) -> bool:
    """Did the error come from a line of the hidden tests? (the first frame of this cell in the traceback)"""
    if part.hidden_from is None or run.execution_count is None:
        return False
    for line in run.traceback:
        for count, lineno in _FRAME.findall(line):
            if int(count) == run.execution_count:
                return int(lineno) >= part.hidden_from
    return False


def _score(part: Part, run: Execution | None, stopped: str, settings: Settings, workdir: Path) -> PartResult:
    def zero(reason, detail="", hidden=False):
        return PartResult(part.grade_id, 0.0, part.points, reason, hidden, detail or reason)

    if run is None:
        return zero(f"not run: {stopped}" if stopped else "not run")
    if run.status == "timeout":
        return zero(f"timed out after {settings.timeout:g} s")
    if run.status == "stuck":
        return zero(f"timed out after {settings.timeout:g} s and did not stop; the kernel was stopped")
    if run.status == "dead":
        return zero(f"not completed: {stopped or 'the kernel died'}")
    if run.forged:
        return zero("the kernel answered twice for this cell: a reply was forged", "the test did not pass")
    if run.status == "error" or run.ename:
        hidden = _hidden(part, run)
        message = _clean(f"{run.ename}: {run.evalue}" if run.evalue else run.ename, workdir)
        where = "failed in the hidden tests" if hidden else "failed"
        detail = "a hidden test failed" if hidden else f"{message}"[:500]
        return zero(f"{where}: {message}"[:300], detail, hidden)
    if run.stderr:
        first = next((line for line in run.text.splitlines() if line.strip()), "")
        return zero(f"wrote to stderr: {_clean(first, workdir)}"[:300],
                    "the cell wrote to stderr (a warning?), which fails a test: " + _clean(first, workdir)[:300])
    if part.partial and run.result is not None:
        from .nbgrader_course import partial_credit

        points = partial_credit(run.result, part.points)
        if points < part.points:
            return PartResult(part.grade_id, points, part.points, f"partial credit {points:g}/{part.points:g}")
    return PartResult(part.grade_id, part.points, part.points, "passed")
