"""Command lines: ``python -m labcode.grading release|grade …`` and the ``labcode-grade`` console script."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import GradingError


def _grade_arguments(p: argparse.ArgumentParser) -> None:
    from .batch import CELL_TIMEOUT, MAX_OUTPUT

    p.add_argument("submissions", help="folder with one sub-folder per student: SUBMISSIONS/<student>/<NN_topic>.ipynb")
    p.add_argument("--source", default="solutions",
                   help="folder of source notebooks to grade against (e.g. a private copy with your own hidden tests)")
    p.add_argument("--timeout", type=float, default=CELL_TIMEOUT,
                   help="seconds allowed per cell (default %(default)s)")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help="notebooks graded at once, each in its own process and kernel (default: one per core)")
    p.add_argument("--max-output", type=int, default=MAX_OUTPUT,
                   help="characters of output kept per cell; the rest is dropped (default %(default)s)")
    p.add_argument("--no-feedback", action="store_true", help="skip the HTML feedback")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (one line per notebook instead)")


def _grade(args) -> None:
    from .batch import grade

    if args.jobs is not None and args.jobs < 1:
        raise GradingError(f"--jobs must be at least 1, got {args.jobs}")
    grade(args.submissions, args.source, timeout=args.timeout, feedback=not args.no_feedback, jobs=args.jobs,
          max_output=args.max_output, progress=False if args.no_progress else None)


def main(argv=None) -> int:
    """``python -m labcode.grading release|grade …``"""
    parser = argparse.ArgumentParser(prog="python -m labcode.grading",
                                     description="Release and autograde the graded exercises (nbgrader format).")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="generate the student release of every source notebook")
    p.add_argument("--source", default="solutions", help="folder of nbgrader source notebooks")
    p.add_argument("--release", default="exercises", help="folder to write the student notebooks to")
    p = sub.add_parser("grade", help="autograde SUBMISSIONS/<student>/<NN_topic>.ipynb")
    _grade_arguments(p)
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            from .release import release

            written = release(args.source, args.release)
            for path in written:
                print(f"wrote {path}")
            for path in sorted(set(Path(args.release).glob("*.ipynb")) - set(written)):
                print(f"note: {path} has no source notebook in {args.source} (delete it?)")
        else:
            _grade(args)
    except GradingError as e:
        print(f"labcode.grading {args.command}: {e}", file=sys.stderr)
        return 2
    return 0


def grade_main(argv=None) -> int:
    """``labcode-grade SUBMISSIONS [--source DIR] …``: the grade command on its own."""
    parser = argparse.ArgumentParser(prog="labcode-grade",
                                     description="Autograde SUBMISSIONS/<student>/<NN_topic>.ipynb against the "
                                                 "nbgrader source notebooks; writes grades.csv and feedback.")
    _grade_arguments(parser)
    args = parser.parse_args(argv)
    try:
        _grade(args)
    except GradingError as e:
        print(f"labcode-grade: {e}", file=sys.stderr)
        return 2
    return 0
