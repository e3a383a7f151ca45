"""Release and autograde the graded exercises (nbgrader's notebook format).

Two commands (``make exercises`` and ``make grade`` call them)::

    python -m labcode.grading release --source solutions --release exercises
    python -m labcode.grading grade SUBMISSIONS --source solutions [--jobs N] [--timeout S]

``solutions/NN_topic.ipynb`` are nbgrader *source* notebooks: solution regions,
autograded test cells with points, hidden tests.

``release`` writes the student version of every source notebook with nbgrader's
``generate_assignment`` (solutions replaced by nbgrader's stub, hidden tests
removed), normalised so that regenerating it gives the same bytes.

``grade`` autogrades ``SUBMISSIONS/<student>/<NN_topic>.ipynb`` against the
source directory it is given (an instructor can keep a private copy with their
own hidden tests) with nbgrader's ``Autograde`` converter, in a throw-away
course directory per notebook whose gradebook gives the points; its execution
step is the grader's own: each notebook runs cell by cell in a fresh kernel of its own,
in parallel across the machine's cores, with the locked and test cells taken
from the source (restored whatever the student did to them), a guard that puts
back what a submission monkey-patched before every test cell, a per-cell time
limit, a cap on output, and a kernel that may die without taking the rest of
the grading with it. It writes ``SUBMISSIONS/grades.csv`` (one row per test
cell: points, status, reason), ``SUBMISSIONS/review.csv`` (what the guard had
to put back), HTML feedback in ``SUBMISSIONS/<student>/feedback/``, and prints
a summary.

Modules: ``release`` (nbgrader's release), ``exercise`` (source notebooks,
submissions, the cells a submission runs), ``nbgrader_course`` (nbgrader's
Autograde with the grader's execution step), ``kernel`` (the throw-away kernel),
``guard`` (what runs inside it to undo monkey-patching), ``autograde`` (one
notebook: run and score), ``batch`` (a folder: parallel worker processes,
outputs), ``worker`` (a worker process), ``report`` (grades.csv, review.csv,
summary, feedback), ``cli`` (the command lines).
Importing this package is light: nbgrader, nbclient and jupyter_client load
only when a command runs.
"""

from .batch import CELL_TIMEOUT, MAX_OUTPUT, TF_LOG_PATTERN, default_jobs, grade
from .cli import grade_main, main
from .errors import GradingError
from .release import release, source_notebooks
from .report import CSV_FIELDS, summary

__all__ = ["GradingError", "release", "grade", "main", "grade_main", "summary", "source_notebooks",
           "default_jobs", "CELL_TIMEOUT", "MAX_OUTPUT", "TF_LOG_PATTERN", "CSV_FIELDS"]
