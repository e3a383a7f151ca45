"""Source notebooks, submissions, and the cells a submission is graded with.

A source notebook (nbgrader's format) gives each exercise its *trusted* cells
(locked cells and autograded test cells, hidden tests included) and its
*solution* cells. Grading a submission runs, in a fresh kernel:

1. the source's leading locked cells (its setup), before any student code;
2. then the submission's cells in the student's order, where every trusted
   cell is replaced by the source's version whatever the student did to it
   (edited, emptied, turned into markdown, metadata stripped), trusted cells the
   student deleted come back after the source cell that precedes them, and
   cells the student added run where they are;
3. solution cells the student deleted are not put back (as nbgrader): a
   solution written in a cell of the student's own still counts.

Cells are matched to the source by nbgrader ``grade_id`` and, where a cell
lost its metadata, by cell id; the first match wins (a duplicated test cell is
an ordinary student cell).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"


@dataclass(frozen=True)
class Part:
    """One autograded test cell: a row of grades.csv."""

    grade_id: str
    points: float
    title: str  # the cell's first comment line, e.g. "Test (1 point): sin gives the right value"
    hidden_from: int | None  # 1-based line of "### BEGIN HIDDEN TESTS", None without hidden tests
    partial: bool  # the cell ends with an expression: its value is partial credit (nbgrader's rule)


@dataclass(frozen=True)
class SourceCell:
    key: str  # grade_id of an nbgrader cell, else the cell id
    kind: str  # "locked" | "test" | "solution" | "code" (a plain cell students may edit)
    source: str
    cell_id: str | None
    grade_id: str | None

    @property
    def trusted(self) -> bool:
        return self.kind in ("locked", "test")


@dataclass(frozen=True)
class Exercise:
    """What grading needs from one source notebook (picklable; parsed once, in the main process)."""

    name: str
    cells: tuple[SourceCell, ...]
    parts: tuple[Part, ...]
    manual: tuple[tuple[str, float], ...]  # manually graded cells: (grade_id, points), scored 0 here
    roots: tuple[str, ...]  # top-level modules the trusted cells import: the guard protects them
    digest: str  # sha256 of the source file

    @property
    def max_points(self) -> float:
        return sum(p.points for p in self.parts) + sum(p for _, p in self.manual)

    @property
    def grade_ids(self) -> frozenset[str]:
        return frozenset(c.grade_id for c in self.cells if c.grade_id)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset({c.key for c in self.cells} | {c.cell_id for c in self.cells if c.cell_id})


@dataclass
class RunCell:
    """A cell as it is executed when grading."""

    label: str  # grade_id / cell id of a source cell; "your cell N" for a cell the student added
    kind: str  # "locked" | "test" | "solution" | "code" | "added"
    source: str
    refs: tuple[str, ...] = ()  # names a trusted cell reads (for the guard)
    binds: tuple[str, ...] = ()  # names a trusted cell binds at top level
    restored: str = ""  # for trusted cells: "", "edited", "deleted"

    @property
    def trusted(self) -> bool:
        return self.kind in ("locked", "test")


def _meta(cell) -> dict:
    meta = cell.get("metadata") or {}
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else str(source or "")


def load_exercise(path) -> Exercise:
    """Parse a source notebook into an :class:`Exercise`."""
    import nbformat

    path = Path(path)
    data = path.read_bytes()
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    cells, parts, manual, roots = [], [], [], {}
    for index, cell in enumerate(nb.cells):
        m = _meta(cell)
        source = _text(cell.source)
        grade_id = m.get("grade_id") if isinstance(m.get("grade_id"), str) else None
        if m.get("grade") and (cell.cell_type != "code" or m.get("solution")):
            manual.append((grade_id, float(m.get("points", 0))))
        if cell.cell_type != "code":
            continue
        if m.get("solution"):
            kind = "solution"
        elif m.get("grade"):
            kind = "test"
        elif m.get("locked"):
            kind = "locked"
        else:
            kind = "code"
        cell_id = cell.get("id")
        cells.append(SourceCell(key=grade_id or cell_id or f"cell-{index}", kind=kind, source=source,
                                cell_id=cell_id, grade_id=grade_id))
        if kind == "test":
            lines = source.splitlines()
            hidden = next((i + 1 for i, line in enumerate(lines) if line.strip() == HIDDEN_BEGIN), None)
            parts.append(Part(grade_id=grade_id, points=float(m.get("points", 0)), title=_title(source),
                              hidden_from=hidden, partial=_ends_with_expression(source)))
        if kind in ("locked", "test"):
            roots.update(dict.fromkeys(imported_roots(source)))
    return Exercise(name=path.stem, cells=tuple(cells), parts=tuple(parts), manual=tuple(manual),
                    roots=tuple(roots), digest=hashlib.sha256(data).hexdigest())


def _title(source: str) -> str:
    first = source.lstrip().splitlines()[0] if source.strip() else ""
    return first.lstrip("#").strip() if first.lstrip().startswith("#") else ""


def _parse(source: str):
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):  # IPython magics, or not Python at all
        return None


def _ends_with_expression(source: str) -> bool:
    tree = _parse(source)
    return bool(tree and tree.body and isinstance(tree.body[-1], ast.Expr))


def imported_roots(source: str) -> list[str]:
    """Top-level packages a cell imports (``import numpy.testing`` → numpy)."""
    tree = _parse(source)
    found = []
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Import):
            found += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module.split(".")[0])
    return list(dict.fromkeys(found))


def names(source: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names the cell reads anywhere, names it binds at top level)."""
    tree = _parse(source)
    if tree is None:
        return (), ()
    refs = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    binds = set()

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                binds.add(child.name)
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                binds.update((a.asname or a.name.split(".")[0]) for a in child.names if a.name != "*")
            elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                binds.add(child.id)
            elif not isinstance(child, ast.Lambda):
                visit(child)

    visit(tree)
    return tuple(sorted(refs)), tuple(sorted(binds))


# ----------------------------------------------------------------------------------------------- submissions
class Unreadable(Exception):
    """A submitted file that is not a notebook (empty, invalid JSON, …)."""


def read_submission(data: bytes):
    """Parse a submitted file; raise :class:`Unreadable` with the reason."""
    import nbformat

    if not data.strip():
        raise Unreadable("empty file")
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise Unreadable(f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise Unreadable(f"not valid JSON ({e.msg}, line {e.lineno} column {e.colno})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", raw.get("worksheets")), list):
        raise Unreadable("not a Jupyter notebook (no list of cells)")
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as e:  # nbformat's own errors: unknown versions, broken structure
        raise Unreadable(f"not a readable notebook ({type(e).__name__}: {_short(str(e))})") from None
    if not all(isinstance(c, dict) and c.get("cell_type") in ("code", "markdown", "raw") for c in nb.cells):
        raise Unreadable("not a readable notebook (a cell without a valid cell_type)")
    return nb


def _short(text: str, n: int = 160) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= n else text[: n - 1] + "…"


def belongs_to(nb, exercise: Exercise, others: list[Exercise]) -> str | None:
    """None if the notebook is the exercise's; else the name of the exercise it looks like (or "").

    Judged on the ids of solution and test cells (a setup cell's id is often shared): a notebook whose
    nbgrader cells match none of this exercise's, or match another exercise better, is another's.
    """
    def graded_ids(cells):
        return {m["grade_id"] for m in map(_meta, cells)
                if (m.get("grade") or m.get("solution")) and isinstance(m.get("grade_id"), str)}

    submitted = graded_ids(nb.cells)
    cell_ids = {c.get("id") for c in nb.cells} - {None}

    def overlap(ex: Exercise) -> float:
        keys = {c.key for c in ex.cells if c.kind in ("test", "solution")}
        ids = {c.cell_id for c in ex.cells if c.kind in ("test", "solution") and c.cell_id}
        return len((submitted & keys) | (cell_ids & ids)) / max(1, len(keys))

    mine = overlap(exercise)
    best = max(others, key=overlap, default=None)
    if best is not None and best.name != exercise.name and overlap(best) > mine and mine < 0.5:
        return best.name
    if mine == 0 and submitted:  # nbgrader cells, none of them this exercise's
        return ""
    return None


def plan(exercise: Exercise, nb) -> list[RunCell]:
    """The cells to execute for a submission (see the module docstring)."""
    by_grade_id = {c.grade_id: c for c in exercise.cells if c.grade_id}
    by_cell_id = {c.cell_id: c for c in exercise.cells if c.cell_id}
    order = {c.key: i for i, c in enumerate(exercise.cells)}
    first_open = next((i for i, c in enumerate(exercise.cells) if not c.trusted), len(exercise.cells))
    lead = exercise.cells[:first_open]

    matched: dict[str, object] = {}
    sequence = []  # (SourceCell or None, student cell)
    for cell in nb.cells:
        m = _meta(cell)
        src = by_grade_id.get(m.get("grade_id")) or by_cell_id.get(cell.get("id"))
        if src is not None and src.key not in matched:
            matched[src.key] = cell
            sequence.append((src, cell))
        elif cell.get("cell_type") == "code":
            sequence.append((None, cell))

    run: list[RunCell] = [_trusted(c, _status(c, matched)) for c in lead]
    placed = {c.key: i for i, c in enumerate(lead)}
    added = 0
    for src, cell in sequence:
        if src is not None and src.key in placed:
            continue
        if src is None:
            added += 1
            run.append(RunCell(label=f"your cell {added}", kind="added", source=_text(cell.get("source"))))
        elif src.trusted:
            run.append(_trusted(src, _status(src, matched)))
        else:
            run.append(RunCell(label=src.key, kind=src.kind, source=_text(cell.get("source"))))
        if src is not None:
            placed[src.key] = len(run) - 1
    for src in exercise.cells:  # trusted cells the student deleted: after the source cell before them
        if src.key in placed or not src.trusted:
            continue
        before = [placed[c.key] for c in exercise.cells[: order[src.key]] if c.key in placed]
        at = max(before) + 1 if before else len(lead)
        run.insert(at, _trusted(src, "deleted"))
        placed = {k: (i + 1 if i >= at else i) for k, i in placed.items()}
        placed[src.key] = at
    return run


def _status(src: SourceCell, matched: dict) -> str:
    cell = matched.get(src.key)
    if cell is None:
        return "deleted"
    same = _lines(_text(cell.get("source"))) in (_lines(src.source), _lines(visible(src.source)))
    return "" if same and cell.get("cell_type") == "code" else "edited"


def visible(source: str) -> str:
    """A test cell as released: without its hidden tests (nbgrader's ClearHiddenTests)."""
    out, hidden = [], False
    for line in source.splitlines():
        if line.strip() == HIDDEN_BEGIN:
            hidden = True
        elif line.strip() == "### END HIDDEN TESTS":
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def _lines(source: str) -> list[str]:
    return [line.rstrip() for line in source.splitlines() if line.strip()]


def _trusted(src: SourceCell, restored: str) -> RunCell:
    refs, binds = names(src.source)
    return RunCell(label=src.key, kind=src.kind, source=src.source, refs=refs, binds=binds, restored=restored)


@dataclass
class Job:
    """One notebook to grade: sent to a worker process."""

    student: str
    exercise: Exercise
    path: str
    digest: str | None  # sha256 of the file when the run started; None when missing
    others: list[Exercise] = field(default_factory=list)
