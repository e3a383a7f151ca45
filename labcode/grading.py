"""Release and autograde the graded exercises with nbgrader.

Two commands (``make exercises`` and ``make grade`` call them)::

    python -m labcode.grading release --source solutions --release exercises
    python -m labcode.grading grade SUBMISSIONS --source solutions

``solutions/NN_topic.ipynb`` are nbgrader *source* notebooks: solution regions,
autograded test cells with points, hidden tests. Each notebook is one nbgrader
assignment (assignment id = notebook id = ``NN_topic``), built in a throw-away
course directory in a temporary folder, so nothing of nbgrader's is left in
the repository.

``release`` writes the student version of every source notebook (solutions
replaced by nbgrader's stub, hidden tests removed), normalised so that
regenerating it gives the same bytes.

``grade`` autogrades ``SUBMISSIONS/<student>/<NN_topic>.ipynb`` against the
source directory it is given (hidden tests and locked cells come from there,
so an instructor can keep a private copy with their own hidden tests), then
writes ``SUBMISSIONS/grades.csv`` (one row per test cell), HTML feedback in
``SUBMISSIONS/<student>/feedback/``, and prints a summary. Test cells a
student edited or deleted are restored from the source before grading.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

__all__ = ["GradingError", "release", "grade", "main"]

CELL_TIMEOUT = 120  # seconds per cell; nbgrader's default of 30 s is too short for training cells
# TensorFlow's C++ log lines on stderr ("2024-05-01 12:00:00.123456: I tensorflow/...",
# "W0000 00:00:1714564800.123456   123 file.cc:45] ...") are not the student's output, yet any
# stderr in a test cell scores it 0: nbgrader's IgnorePattern drops the stderr outputs they are in.
TF_LOG_PATTERN = (r"(?m)^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "
                  r"|[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ \S+:\d+\] "
                  r"|WARNING: All log messages before absl::InitializeLog\(\) is called)")
CSV_FIELDS = ("student", "exercise", "part", "points", "max_points", "status")


class GradingError(Exception):
    """A problem with the command's input (a missing folder, no notebooks, nbgrader failing)."""


def source_notebooks(source) -> list[Path]:
    """The source notebooks ``source/*.ipynb``, sorted; a clear error when there are none."""
    source = Path(source)
    if not source.is_dir():
        raise GradingError(f"source directory {str(source)!r} does not exist")
    notebooks = sorted(source.glob("*.ipynb"))
    if not notebooks:
        raise GradingError(f"source directory {str(source)!r} holds no notebooks (*.ipynb)")
    return notebooks


@contextlib.contextmanager
def _course(notebooks: list[Path], *, database: bool, timeout: int = CELL_TIMEOUT):
    """A throw-away nbgrader course directory, one assignment per notebook; yields (api, root)."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    with tempfile.TemporaryDirectory(prefix="labcode-grading-") as tmp, _alembic_on_path(), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's and nbformat's warnings about nbgrader's internals
        root = Path(tmp)
        for nb in notebooks:
            (root / "source" / nb.stem).mkdir(parents=True)
            shutil.copyfile(nb, root / "source" / nb.stem / nb.name)
        c = Config()
        c.CourseDirectory.root = str(root)
        c.Exchange.root = str(root / "exchange")  # unused; keeps nbgrader away from /srv/nbgrader
        c.GenerateAssignment.no_database = not database
        c.SaveCells.enabled = database  # what `nbgrader generate_assignment --no-db` sets
        c.Execute.timeout = timeout
        c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]  # no "TCP without encryption" banner
        c.OverwriteCells.add_missing_cells = True  # a deleted test cell comes back (and runs)
        c.IgnorePattern.enabled = True
        c.IgnorePattern.pattern = TF_LOG_PATTERN
        yield NbGraderAPI(config=c), root


@contextlib.contextmanager
def _alembic_on_path():
    """nbgrader's gradebook runs the ``alembic`` command: find it beside this Python.

    Needed when the virtual environment is used without being activated
    (``.venv/bin/python -m labcode.grading``, as the Makefile does).
    """
    old = os.environ.get("PATH", "")
    if shutil.which("alembic") is None:
        os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + old
    try:
        yield
    finally:
        os.environ["PATH"] = old


def _check(result: dict, what: str) -> None:
    if not result.get("success"):
        raise GradingError(f"nbgrader {what} failed:\n{result.get('log', '')}{result.get('error', '')}")


def _error_line(result: dict) -> str:
    """The exception behind a failed nbgrader run (its last ``SomeError: message`` line), for grades.csv."""
    found = re.findall(r"^\s*(?:\w+\.)*(\w+(?:Error|Exception|Exit|Interrupt)\b.*)$",
                       result.get("log", "") + result.get("error", ""), flags=re.M)
    found = [line.strip() for line in found if not line.startswith("NbGraderException")] or ["nbgrader failed"]
    return found[-1][:200]


def _normalised(path: Path) -> str:
    """A notebook's text in one canonical form: validated, sorted keys, no volatile metadata."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def release(source="solutions", release_dir="exercises") -> list[Path]:
    """Write the student release of every source notebook; return the files written."""
    notebooks = source_notebooks(source)
    release_dir = Path(release_dir)
    release_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with _course(notebooks, database=False) as (api, root):
        for nb in notebooks:
            _check(api.generate_assignment(nb.stem), f"generate_assignment {nb.stem}")
            text = _normalised(root / "release" / nb.stem / nb.name)
            out = release_dir / nb.name
            out.write_text(text, encoding="utf-8", newline="\n")
            written.append(out)
    return written


def _parts(notebook: Path) -> list[tuple[str, float]]:
    """(grade_id, points) of every graded cell of a source notebook, in notebook order."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    meta = (cell.metadata.get("nbgrader", {}) for cell in nb.cells)
    return [(m["grade_id"], float(m.get("points", 0))) for m in meta if m.get("grade")]


def grade(submissions, source="solutions", *, timeout: int = CELL_TIMEOUT, feedback: bool = True,
          echo=print) -> list[dict]:
    """Autograde ``submissions/<student>/<NN_topic>.ipynb``; write grades.csv and feedback.

    Returns the rows of grades.csv as dicts (points as floats).
    """
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise GradingError(f"submissions directory {str(submissions)!r} does not exist "
                           "(expected SUBMISSIONS/<student>/<NN_topic>.ipynb)")
    notebooks = source_notebooks(source)
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not students:
        raise GradingError(f"no student folders in {str(submissions)!r} "
                           "(expected SUBMISSIONS/<student>/<NN_topic>.ipynb)")
    rows = []
    with _course(notebooks, database=True, timeout=timeout) as (api, root):
        for nb in notebooks:
            _check(api.generate_assignment(nb.stem), f"generate_assignment {nb.stem}")
        for student in students:
            for nb in notebooks:
                exercise, parts = nb.stem, _parts(nb)
                scores, status = _grade_one(api, root, submissions, student, exercise, feedback)
                for part, max_points in parts:
                    rows.append({"student": student, "exercise": exercise, "part": part,
                                 "points": scores.get(part, 0.0), "max_points": max_points,
                                 "status": status})
                got = sum(r["points"] for r in rows[-len(parts):]) if parts else 0.0
                echo(f"  {student:<20} {exercise:<20} {got:g}/{sum(p for _, p in parts):g}  {status}")
    _write_csv(submissions / "grades.csv", rows)
    echo(summary(rows))
    echo(f"wrote {submissions / 'grades.csv'}" + (" and feedback/ per student" if feedback else ""))
    return rows


def _grade_one(api, root: Path, submissions: Path, student: str, exercise: str, feedback: bool):
    """Autograde one notebook of one student; return ({grade_id: points}, status)."""
    submitted = submissions / student / f"{exercise}.ipynb"
    (submissions / student / "feedback" / f"{exercise}.html").unlink(missing_ok=True)  # no stale feedback
    if not submitted.is_file():
        return {}, "missing"
    dest = root / "submitted" / student / exercise
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(submitted, dest / submitted.name)
    try:
        result = api.autograde(exercise, student)
        if not result.get("success"):
            return {}, f"error: {_error_line(result)}"
        with api.gradebook as gb:
            graded = gb.find_submission_notebook(exercise, exercise, student)
            scores = {g.name: float(g.score or 0.0) for g in graded.grades}
        if feedback:
            result = api.generate_feedback(exercise, student)
            html = root / "feedback" / student / exercise / f"{exercise}.html"
            if result.get("success") and html.is_file():
                (submissions / student / "feedback").mkdir(exist_ok=True)
                shutil.copyfile(html, submissions / student / "feedback" / html.name)
    except Exception as e:  # one broken submission must not stop the others
        return {}, f"error: {type(e).__name__}: {e}"[:200]
    return scores, "graded"


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "points": f"{row['points']:g}", "max_points": f"{row['max_points']:g}"})


def summary(rows: list[dict]) -> str:
    """A plain-text table: one line per student, points per exercise and in total."""
    exercises = list(dict.fromkeys(r["exercise"] for r in rows))
    totals = {}  # (student, exercise) -> [points, max_points, "*" if not all graded]
    for r in rows:
        t = totals.setdefault((r["student"], r["exercise"]), [0.0, 0.0, ""])
        t[0], t[1] = t[0] + r["points"], t[1] + r["max_points"]
        t[2] = t[2] if r["status"] == "graded" else "*"
    table = [["student", *exercises, "total"]]
    for student in dict.fromkeys(r["student"] for r in rows):
        mine = [totals.get((student, e), [0.0, 0.0, ""]) for e in exercises]
        table.append([student, *(f"{flag}{got:g}/{top:g}" for got, top, flag in mine),
                      f"{sum(t[0] for t in mine):g}/{sum(t[1] for t in mine):g}"])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)])
             for row in table]
    if any(r["status"] != "graded" for r in rows):
        lines.append("* missing or not gradable: see the status column of grades.csv")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labcode.grading", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="generate the student release of every source notebook")
    p.add_argument("--source", default="solutions", help="folder of nbgrader source notebooks")
    p.add_argument("--release", default="exercises", help="folder to write the student notebooks to")
    p = sub.add_parser("grade", help="autograde SUBMISSIONS/<student>/<NN_topic>.ipynb")
    p.add_argument("submissions", help="folder with one sub-folder per student")
    p.add_argument("--source", default="solutions",
                   help="folder of source notebooks to grade against (e.g. a private copy with your own hidden tests)")
    p.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds allowed per cell (default %(default)s)")
    p.add_argument("--no-feedback", action="store_true", help="skip the HTML feedback")
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            written = release(args.source, args.release)
            for path in written:
                print(f"wrote {path}")
            for path in sorted(set(Path(args.release).glob("*.ipynb")) - set(written)):
                print(f"note: {path} has no source notebook in {args.source} (delete it?)")
        else:
            grade(args.submissions, args.source, timeout=args.timeout, feedback=not args.no_feedback)
    except GradingError as e:
        print(f"labcode.grading {args.command}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
