"""The student release: nbgrader's ``generate_assignment`` in a throw-away course directory.

Each source notebook ``NN_topic.ipynb`` is one nbgrader assignment (assignment
id = notebook id = ``NN_topic``), built in a temporary folder so nothing of
nbgrader's is left in the repository. The result is normalised (validated,
sorted keys, no volatile metadata) so that regenerating it gives the same bytes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from .errors import GradingError


def source_notebooks(source) -> list[Path]:
    """The source notebooks ``source/*.ipynb``, sorted; a clear error when there are none."""
    source = Path(source)
    if not source.is_dir():
        raise GradingError(f"source directory {str(source)!r} does not exist")
    notebooks = sorted(source.glob("*.ipynb"))
    if not notebooks:
        raise GradingError(f"source directory {str(source)!r} holds no notebooks (*.ipynb)")
    return notebooks


def course_config(root: Path, database: bool):
    """nbgrader's configuration for a course directory at ``root`` (its gradebook inside it, if any)."""
    from traitlets.config import Config

    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.db_url = f"sqlite:///{Path(root).absolute() / 'gradebook.db'}"
    c.Exchange.root = str(Path(root) / "exchange")  # unused; keeps nbgrader away from /srv/nbgrader
    if not database:
        c.GenerateAssignment.no_database = True  # 2 s instead of 5 s: the release needs no gradebook
        c.SaveCells.enabled = False  # what `nbgrader generate_assignment --no-db` sets
    return c


@contextlib.contextmanager
def _course(notebooks: list[Path]):
    """A throw-away nbgrader course directory, one assignment per notebook; yields (api, root)."""
    from nbgrader.apps import NbGraderAPI

    with tempfile.TemporaryDirectory(prefix="labcode-grading-") as tmp, alembic_on_path(), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's and nbformat's warnings about nbgrader's internals
        root = Path(tmp)
        for nb in notebooks:
            (root / "source" / nb.stem).mkdir(parents=True)
            shutil.copyfile(nb, root / "source" / nb.stem / nb.name)
        yield NbGraderAPI(config=course_config(root, database=False)), root


@contextlib.contextmanager
def alembic_on_path():
    """nbgrader may run the ``alembic`` command: find it beside this Python.

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


def check(result: dict, what: str) -> None:
    if not result.get("success"):
        raise GradingError(f"nbgrader {what} failed:\n{result.get('log', '')}{result.get('error', '')}")


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
    with _course(notebooks) as (api, root):
        for nb in notebooks:
            check(api.generate_assignment(nb.stem), f"generate_assignment {nb.stem}")
            text = _normalised(root / "release" / nb.stem / nb.name)
            out = release_dir / nb.name
            out.write_text(text, encoding="utf-8", newline="\n")
            written.append(out)
    return written
