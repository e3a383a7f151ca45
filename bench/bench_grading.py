"""Submissions graded per minute: serial against parallel, on 40 copies of a full-marks submission.

Grades SUBMISSIONS/<student>/01_autodiff.ipynb for 40 made-up students (each a
copy of the solution, so each must score full marks) with ``labcode.grading.grade``,
once with one worker (serial) and once with one worker per core (parallel), and
prints notebooks per minute for both and the speed-up. Both runs must give the
same grades.csv. Exits non-zero if the parallel run does less than 10
submissions a minute or any copy misses a point. ``--serial N`` grades only N
copies serially (it says so), to keep the bench short on a slow machine.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from labcode import grading

ROOT = Path(__file__).resolve().parents[1]
EXERCISE = "01_autodiff"
TARGET_PER_MINUTE = 10.0


def run(source: Path, copies: int, jobs: int, folder: Path) -> tuple[float, bytes]:
    subs = folder / f"subs-{jobs}-{copies}"
    for i in range(copies):
        (subs / f"student{i:03d}").mkdir(parents=True)
        shutil.copyfile(source / f"{EXERCISE}.ipynb", subs / f"student{i:03d}" / f"{EXERCISE}.ipynb")
    start = time.perf_counter()
    rows = grading.grade(subs, source, jobs=jobs, echo=lambda *args: None, progress=False)
    seconds = time.perf_counter() - start
    short = [r for r in rows if r["points"] != r["max_points"]]
    if short:
        raise SystemExit(f"a full-marks copy lost points: {short[:3]}")
    return seconds, (subs / "grades.csv").read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=40, help="submissions graded in parallel (default 40)")
    parser.add_argument("--serial", type=int, default=None, help="submissions graded serially (default: --copies)")
    args = parser.parse_args()
    serial_n = args.serial or args.copies
    jobs = grading.default_jobs()
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        folder = Path(tmp)
        source = folder / "source"
        source.mkdir()
        shutil.copyfile(ROOT / "solutions" / f"{EXERCISE}.ipynb", source / f"{EXERCISE}.ipynb")
        serial_s, serial_csv = run(source, serial_n, 1, folder)
        parallel_s, parallel_csv = run(source, args.copies, jobs, folder)
    if serial_n == args.copies and serial_csv != parallel_csv:
        print("serial and parallel grading gave different grades.csv", file=sys.stderr)
        return 1
    serial_rate, parallel_rate = 60 * serial_n / serial_s, 60 * args.copies / parallel_s
    print(f"grading copies of a full-marks {EXERCISE} submission; {jobs} core(s) available")
    print(f"{'mode':<10} {'workers':>7} {'notebooks':>9} {'seconds':>8} {'per minute':>10}")
    print(f"{'serial':<10} {1:>7} {serial_n:>9} {serial_s:>8.1f} {serial_rate:>10.1f}")
    print(f"{'parallel':<10} {jobs:>7} {args.copies:>9} {parallel_s:>8.1f} {parallel_rate:>10.1f}")
    print(f"speed-up (parallel rate / serial rate): {parallel_rate / serial_rate:.2f}x")
    if serial_n != args.copies:
        print(f"(serial measured on {serial_n} copies only, not {args.copies})")
    met = parallel_rate >= TARGET_PER_MINUTE
    print(f"target >= {TARGET_PER_MINUTE:g} submissions/minute: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
