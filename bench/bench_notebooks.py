"""Seconds each chapter notebook takes to run top to bottom, against its 90 s budget.

Runs every notebook in chapters/ with nbclient in a fresh kernel (as nbval and
the book build do) and prints one line per chapter. On a shared machine the
absolute numbers wander: compare chapters within one run. Exits non-zero if a
chapter goes over budget.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

BUDGET_S = 90.0
ROOT = Path(__file__).resolve().parents[1]


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def main() -> int:
    over = 0
    print(f"{'chapter':<32} {'seconds':>8} {'of budget':>10}")
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        s = run(path)
        over += s > BUDGET_S
        print(f"{path.name:<32} {s:>8.1f} {s / BUDGET_S:>9.0%}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
