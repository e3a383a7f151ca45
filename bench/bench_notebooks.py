"""Seconds each chapter notebook takes to run top to bottom, against its 90 s budget.

Runs every notebook in chapters/ with nbclient in a fresh kernel (as nbval and
the book build do) and prints one line per chapter. On a shared machine the
absolute numbers wander: compare chapters within one run. Exits non-zero if a
chapter goes over budget.
"""

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

# As in the book build: chapter 6 shows its interactive filter explorer (ipywidgets) only where someone can use
# it. With no frontend to answer the widget, nbclient + ipykernel 7.4 at times left the next cell's request
# unread until nbclient's timeout ran out (about 1 run in 3; the request arrives while the kernel sends its reply,
# ipython/ipykernel#1554): a 600 s "chapter" that measured nothing. nbval, in `make test`, does run the widget.
os.environ.setdefault("LABCODE_WIDGETS", "0")
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
