"""Hostile and broken submissions: each gets exactly the score the original tests give.

A small exercise made here (``90_guard``) has five parts worth 1, 2, 4, 8 and
16 points, so a total says exactly which parts passed. One grading run of a
folder of made-up students (module-scoped fixture, two workers, a short cell
timeout) backs most tests: infinite loops, exceptions, a syntax error, deleted
and edited tests, monkey-patching of builtins, numpy.testing, math, IPython's
hooks and the setup's names, a dying kernel, 100 MB of output, files that are
not notebooks, and a probe of what the kernel can see.
"""

import csv
import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from labcode import grading

ROOT = Path(__file__).resolve().parents[1]
NAME = "90_guard"
TIMEOUT = 3  # seconds per cell: what an infinite loop costs

SETUP = """\
import math
import os
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def check_close(a, b):
    \"\"\"A helper the tests use: fails unless a and b agree.\"\"\"
    assert math.isclose(a, b, rel_tol=1e-9), (a, b)
"""
# (solution cell id, its solution, test cell id, points, visible test, hidden test)
PARTS = [
    ("double", "def double(x):\n    return 2 * x", "test_double", 1,
     "assert double(2) == 4, double(2)", "assert double(-3) == -6"),
    ("square", "def square(x):\n    return x * x", "test_square", 2,
     "assert isinstance(square(2.0), float)\nassert math.isclose(square(1.5), 2.25)",
     "assert math.isclose(square(-3.0), 9.0)"),
    ("norm", "def norm(v):\n    return float(np.sqrt(np.sum(np.asarray(v) ** 2)))", "test_norm", 4,
     "np.testing.assert_allclose(norm([3.0, 4.0]), 5.0)",
     "np.testing.assert_allclose(norm([[1.0, 2.0], [2.0, 4.0]]), 5.0)"),
    ("count", "def count(s):\n    return sorted(set(s))", "test_count", 8,
     "assert len(count('aab')) == 2", "assert count('cba') == ['a', 'b', 'c']"),
    ("halve", "def halve(x):\n    return x / 2", "test_halve", 16,
     "check_close(halve(3.0), 1.5)", "check_close(halve(-1.0), -0.5)"),
]
POINTS = {test: points for _, _, test, points, _, _ in PARTS}
FULL = sum(POINTS.values())  # 31


def _source_notebook() -> nbformat.NotebookNode:
    def meta(grade_id, **kw):
        return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "task": False,
                             "grade": False, "solution": False, "locked": False, **kw}}

    cells = [nbformat.v4.new_markdown_cell("# A small exercise", id="intro"),
             nbformat.v4.new_code_cell(SETUP, id="setup", metadata=meta("setup", locked=True))]
    for sol_id, solution, test_id, points, test, hidden in PARTS:
        head, body = solution.split("\n", 1)
        code = f"{head}\n    ### BEGIN SOLUTION\n{body}\n    ### END SOLUTION"
        cells.append(nbformat.v4.new_code_cell(code, id=sol_id, metadata=meta(sol_id, solution=True)))
        source = f"# Test ({points} points): {test_id}\n{test}\n### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS"
        cells.append(nbformat.v4.new_code_cell(source, id=test_id,
                                               metadata=meta(test_id, grade=True, locked=True, points=points)))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _release(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version: solutions stubbed, hidden tests removed (as nbgrader writes it)."""
    nb = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in nb.cells:
        cell.source = re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION",
                             "# YOUR CODE HERE\n    raise NotImplementedError()", cell.source, flags=re.S)
        cell.source = re.sub(r"\n### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS", "", cell.source, flags=re.S)
    return nb


def _solved(**replace) -> nbformat.NotebookNode:
    """The full solution with some cells' sources replaced (cell id -> source, None deletes the cell)."""
    nb = _source_notebook()
    cells = []
    for cell in nb.cells:
        if cell.id in replace:
            if replace[cell.id] is None:
                continue
            cell.source = textwrap.dedent(replace[cell.id])
        cells.append(cell)
    nb.cells = cells
    return nb


def _add_after(nb, cell_id, source):
    at = next(i for i, c in enumerate(nb.cells) if c.id == cell_id) + 1
    nb.cells.insert(at, nbformat.v4.new_code_cell(textwrap.dedent(source)))
    return nb


WRONG = {  # solutions that run but are wrong: a test can pass them only if its checks are neutralised
    "double": "def double(x):\n    return x",
    "square": "import decimal\ndef square(x):\n    return decimal.Decimal(x) ** 2",  # right value, not a float
    "norm": "def norm(v):\n    return 0.0",
    "count": "def count(s):\n    return list(s)",
    "halve": "def halve(x):\n    return x",
}

# student -> (notebook or raw bytes, expected points; None: not a fixed number)
STUDENTS = {}


def _student(name, expected):
    def register(make):
        STUDENTS[name] = (make, expected)
        return make
    return register


@_student("perfect", FULL)
def _perfect(probe):
    return _solved()


@_student("blank", 0)
def _blank(probe):
    return _release(_source_notebook())


# 1. infinite loops
@_student("loop_in_solution", FULL - 2)
def _loop_in_solution(probe):  # the cell never ends: interrupted; square is undefined
    return _solved(square="while True:\n    pass\ndef square(x):\n    return x * x")


@_student("loop_in_test", FULL - 4)
def _loop_in_test(probe):  # the test cell never ends: interrupted, the rest is graded
    return _solved(norm="def norm(v):\n    while True:\n        pass")


@_student("unstoppable", 1 + 2)
def _unstoppable(probe):  # ignores the interrupt: the kernel is stopped, what comes after scores 0
    return _solved(norm=f"""\
        import os
        with open({str(probe / "pids.txt")!r}, "a") as fh:
            print(os.getpid(), file=fh)
        def norm(v):
            while True:
                try:
                    while True:
                        pass
                except KeyboardInterrupt:
                    pass
        """)


# 2, 3. exceptions, syntax errors
@_student("raiser", FULL - 2)
def _raiser(probe):
    return _solved(square="1 / 0\ndef square(x):\n    return x * x")


@_student("raiser_added_cell", FULL)
def _raiser_added_cell(probe):  # a cell of its own that raises: nothing depends on it
    return _add_after(_solved(), "setup", "raise RuntimeError('oops')")


@_student("syntax", FULL - 8)
def _syntax(probe):
    return _solved(count="def count(s)\n    return sorted(set(s))")


# 4. deleted test cells come back, and run
@_student("deleter", FULL - 16)
def _deleter(probe):
    nb = _solved(test_double=None, test_count=None)
    return _add_after(nb, "halve", WRONG["halve"])  # and (e) is wrong: its restored test says so


# 5. edited tests and monkey-patching: the grade is what the original tests give
@_student("editor", FULL - 1 - 8)
def _editor(probe):
    nb = _solved(double=WRONG["double"], count=WRONG["count"], test_double="pass", test_count="assert True")
    for cell in nb.cells:
        if cell.id == "test_count":
            cell.metadata = {}  # and strips its nbgrader metadata
    return nb


@_student("shadow_builtins", FULL - 2 - 8)
def _shadow_builtins(probe):
    return _solved(square=WRONG["square"] + "\ndef isinstance(*args):\n    return True",
                   count=WRONG["count"] + "\ndef len(x):\n    return 2")


@_student("builtins_module", FULL - 2 - 8)
def _builtins_module(probe):  # patches the builtins module itself (narrowly: IPython needs the real ones)
    return _solved(square=WRONG["square"] + """
import builtins
_isinstance = isinstance
builtins.isinstance = lambda obj, cls: True if type(obj).__name__ == "Decimal" else _isinstance(obj, cls)""",
                   count=WRONG["count"] + """
_len = len
builtins.len = lambda x: 2 if type(x) is list and _len(x) == 3 else _len(x)
__builtins__ = {**vars(builtins), "len": builtins.len}""")


@_student("assertion_error", FULL - 1)
def _assertion_error(probe):  # rebinding AssertionError (name and builtin) changes nothing
    return _solved(double=WRONG["double"] + "\nimport builtins\nclass AssertionError(Exception):\n    pass\n"
                                            "builtins.AssertionError = AssertionError")


@_student("swallower", FULL - 16)
def _swallower(probe):  # redefines the setup's helper to swallow every failure
    return _solved(halve=WRONG["halve"] + "\ndef check_close(a, b):\n    pass")


@_student("numpy_testing", FULL - 4)
def _numpy_testing(probe):
    return _solved(norm=WRONG["norm"] + "\nnp.testing.assert_allclose = lambda *a, **k: None")


@_student("math_patch", FULL - 2 - 16)
def _math_patch(probe):  # math.isclose is behind both square's test and the setup's check_close
    return _solved(square="def square(x):\n    return x", halve=WRONG["halve"],
                   double="def double(x):\n    return 2 * x\nmath.isclose = lambda *a, **k: True")


@_student("module_rebind", FULL - 4)
def _module_rebind(probe):  # a fake `np` whose testing passes everything
    return _solved(norm=WRONG["norm"] + """
import types
np = types.SimpleNamespace(testing=types.SimpleNamespace(assert_allclose=lambda *a, **k: None),
                           asarray=lambda v: v, sqrt=lambda v: v, sum=lambda v: v)""")


@_student("sys_modules", FULL - 4)
def _sys_modules(probe):  # replaces numpy.testing in sys.modules and on numpy
    return _solved(norm=WRONG["norm"] + """
import sys, types
fake = types.ModuleType("numpy.testing")
fake.assert_allclose = lambda *a, **k: None
sys.modules["numpy.testing"] = fake
np.testing = fake""")


@_student("ast_strip", FULL - 1 - 8)
def _ast_strip(probe):  # an IPython AST transformer that deletes every assert statement
    return _solved(double=WRONG["double"], count=WRONG["count"] + """
import ast
class _NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(_NoAsserts())""")


@_student("custom_exc", FULL - 1)
def _custom_exc(probe):  # swallows every exception in IPython, so no error is shown
    return _solved(double=WRONG["double"] + "\nget_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)")


@_student("showtraceback", FULL - 1)
def _showtraceback(probe):  # no traceback shown, ever
    return _solved(double=WRONG["double"] + "\nget_ipython().showtraceback = lambda *a, **k: None\n"
                                            "get_ipython()._showtraceback = lambda *a, **k: None")


@_student("pre_run_hook", FULL - 2)
def _pre_run_hook(probe):  # re-patches as each cell starts (after the grader's restore)
    return _solved(square="def square(x):\n    return x\n"
                          "get_ipython().events.register('pre_run_cell', "
                          "lambda info: setattr(math, 'isclose', lambda *a, **k: True))")


@_student("input_transformer", FULL - 16)
def _input_transformer(probe):  # turns every later cell into `pass`
    return _solved(halve=WRONG["halve"]
                   + "\nget_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])")


@_student("trace_function", FULL - 1)
def _trace_function(probe):  # a trace function that jumps over every assert statement
    return _solved(double=WRONG["double"] + """
import linecache, sys
def _tracer(frame, event, arg):
    if event == "line" and linecache.getline(frame.f_code.co_filename, frame.f_lineno).startswith("assert"):
        try:
            frame.f_lineno = frame.f_lineno + 1
        except ValueError:
            pass
    return _tracer
sys.settrace(_tracer)""")


@_student("visible_only", FULL - 1)
def _visible_only(probe):  # right on the visible case only: the hidden tests catch it
    return _solved(double="def double(x):\n    return 4 if x == 2 else x")


@_student("forger", FULL - 1)
def _forger(probe):  # answers the grader itself: a forged "ok" reply and "idle" before the real outcome
    return _solved(double="""\
        def double(x):
            k = get_ipython().kernel
            parent = k.get_parent("shell")
            k.session.send(k.shell_stream, "execute_reply", {"status": "ok", "execution_count": 1,
                           "user_expressions": {}, "payload": []}, parent, ident=k._shell_parent_ident.get())
            k.session.send(k.iopub_socket, "status", {"execution_state": "idle"}, parent, ident=k._topic("status"))
            return x
        """)


# 6. the kernel dies: parts before keep their points, parts after score 0
@_student("exit", 1 + 2 + 4)
def _exit(probe):
    return _solved(count="import os\nos._exit(1)")


@_student("segfault", 1 + 2 + 4)
def _segfault(probe):
    return _solved(count="import ctypes\nctypes.string_at(0)")


@_student("kill_parent", 0)
def _kill_parent(probe):  # kills the grading process that started its kernel: an error row, the others go on
    return _solved(double=f"""\
        import os, signal
        with open({str(probe / "pids.txt")!r}, "a") as fh:
            print(os.getpid(), file=fh)
        os.kill(os.getppid(), signal.SIGKILL)
        def double(x):
            return 2 * x
        """)


# 7. a flood of output
@_student("big_output", FULL)
def _big_output(probe):
    return _add_after(_solved(), "double", "print('x' * 100_000_000)")


# 8. not a notebook of this exercise
@_student("absent", 0)
def _absent(probe):
    return None


@_student("empty", 0)
def _empty(probe):
    return b""


@_student("invalid_json", 0)
def _invalid_json(probe):
    return b'{"cells": [ this is not json'


@_student("wrong_exercise", 0)
def _wrong_exercise(probe):
    return (ROOT / "solutions" / "01_autodiff.ipynb").read_bytes()


# 9. what the kernel can see of the grader's folders
@_student("probe", FULL)
def _probe(probe):
    return _add_after(_solved(), "setup", f"""\
        import json, os, sys
        facts = {{"cwd": os.getcwd(), "listing": sorted(os.listdir(".")),
                 "env": dict(os.environ), "argv": sys.argv,
                 "relative": {{p: os.path.exists(p) for p in ["solutions", "../solutions", "../../solutions",
                              "source", "../source", "90_guard.ipynb", "../90_guard.ipynb", "../../90_guard.ipynb",
                              "gradebook.db", "../gradebook.db", "../../gradebook.db", "../../template",
                              "../source/90_guard", "../../source/90_guard"]}},
                 "notebooks": [os.path.join(d, f) for d, _, fs in os.walk(".") for f in fs if f.endswith(".ipynb")],
                 "parents": [sorted(os.listdir(os.path.dirname(os.getcwd())))]}}
        with open("written_by_student.txt", "w") as fh:
            fh.write("hello")
        facts["wrote"] = os.path.abspath("written_by_student.txt")
        with open({str(probe / "facts.json")!r}, "w") as fh:
            json.dump(facts, fh)
        """)


# a documented limit: a background thread that re-patches all the time is not stopped, but reported
@_student("thread_repatch", None)
def _thread_repatch(probe):
    return _solved(square="""\
        def square(x):
            return x
        import threading, time
        def _again():
            while True:
                math.isclose = lambda *a, **k: True
                time.sleep(0.0005)
        threading.Thread(target=_again, daemon=True, name="repatcher").start()
        """)


def _write(folder: Path, name: str, content) -> None:
    (folder / name).mkdir(parents=True)
    if content is None:
        return
    path = folder / name / f"{NAME}.ipynb"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        nbformat.write(content, path)


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _grade(subs, source, *extra):
    result = subprocess.run([sys.executable, "-m", "labcode.grading", "grade", str(subs), "--source", str(source),
                             "--timeout", str(TIMEOUT), *extra], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("private_source")
    nbformat.write(_source_notebook(), folder / f"{NAME}.ipynb")
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory, source):
    subs = tmp_path_factory.mktemp("submissions")
    probe = tmp_path_factory.mktemp("probe")
    for name, (make, _) in STUDENTS.items():
        _write(subs, name, make(probe))
    start = time.monotonic()
    result = _grade(subs, source, "--jobs", "2")
    seconds = time.monotonic() - start
    rows = _read_csv(subs / "grades.csv")
    review = _read_csv(subs / "review.csv")
    return {"subs": subs, "rows": rows, "review": review, "stdout": result.stdout, "probe": probe,
            "seconds": seconds, "source": source}


def _mine(rows, student):
    return [r for r in rows if r["student"] == student]


def _total(rows, student):
    return sum(float(r["points"]) for r in _mine(rows, student))


@pytest.mark.parametrize("student", [s for s, (_, expected) in STUDENTS.items() if expected is not None])
def test_exact_score(graded, student):
    expected = STUDENTS[student][1]
    mine = _mine(graded["rows"], student)
    assert [r["part"] for r in mine] == list(POINTS), mine
    assert _total(graded["rows"], student) == expected, [(r["part"], r["points"], r["reason"]) for r in mine]


def test_the_solution_passes_and_the_release_fails(graded):
    rows = graded["rows"]
    assert all(r["reason"] == "passed" and r["status"] == "graded" for r in _mine(rows, "perfect"))
    assert all(r["reason"].startswith("failed: NotImplementedError") for r in _mine(rows, "blank"))


def _reasons(graded, student):
    return {r["part"]: r["reason"] for r in _mine(graded["rows"], student)}


def test_timeouts_are_recorded(graded):
    assert _reasons(graded, "loop_in_test")["test_norm"] == f"timed out after {TIMEOUT} s"
    assert _reasons(graded, "loop_in_solution")["test_square"].startswith("failed: NameError")
    reasons = _reasons(graded, "unstoppable")
    assert reasons["test_norm"].startswith(f"timed out after {TIMEOUT} s and did not stop")
    assert reasons["test_count"].startswith("not run: cell test_norm ran over")
    assert "did not stop when interrupted" in reasons["test_halve"]


def test_kernel_death_is_recorded(graded):
    for student, how in [("exit", "exit status 1"), ("segfault", "killed by SIGSEGV")]:
        reasons = _reasons(graded, student)
        assert reasons["test_norm"] == "passed"
        assert reasons["test_count"] == f"not run: the kernel died in cell count ({how})", reasons
        assert reasons["test_halve"] == reasons["test_count"]
    rows = _mine(graded["rows"], "kill_parent")
    assert {r["status"] for r in rows} == {"error"} and "died" in rows[0]["reason"], rows


def test_hidden_tests_count(graded):
    """Right on the visible cases only: it fails in the hidden tests; the reason says so, the feedback not how."""
    reason = _reasons(graded, "visible_only")["test_double"]
    assert reason.startswith("failed in the hidden tests: AssertionError"), reason
    feedback = (graded["subs"] / "visible_only" / "feedback" / f"{NAME}.html").read_text(encoding="utf-8")
    assert "a hidden test failed" in feedback and "double(-3)" not in feedback
    feedback = (graded["subs"] / "deleter" / "feedback" / f"{NAME}.html").read_text(encoding="utf-8")
    assert "check_close(halve(3.0), 1.5)" not in feedback and "halve(-1.0)" not in feedback


def test_output_is_truncated(graded):
    feedback = (graded["subs"] / "big_output" / "feedback" / f"{NAME}.html").read_text(encoding="utf-8")
    assert "printed 100,000,001 characters of output; only the first 100,000 were kept" in feedback
    assert len(feedback) < 50_000


@pytest.mark.parametrize(("student", "status", "reason"), [
    ("absent", "missing", f"no file absent/{NAME}.ipynb"),
    ("empty", "unreadable", "empty file"),
    ("invalid_json", "unreadable", "not valid JSON"),
    ("wrong_exercise", "wrong-exercise", "this is a notebook of another exercise"),
])
def test_not_a_notebook_of_this_exercise(graded, student, status, reason):
    rows = _mine(graded["rows"], student)
    assert rows and all(r["status"] == status and r["reason"].startswith(reason) for r in rows), rows
    assert re.search(rf"^{student}\s+\*0/{FULL}", graded["stdout"], re.M)


def test_patches_are_reported_for_review(graded):
    notes = {}
    for r in graded["review"]:
        notes.setdefault(r["student"], []).append(r["note"])
    assert not notes.get("perfect") and not notes.get("big_output"), notes
    for student, what in [("numpy_testing", "numpy.testing.assert_allclose"), ("math_patch", "math.isclose"),
                          ("shadow_builtins", "hid name len (shadows a builtin)"), ("swallower", "name check_close"),
                          ("builtins_module", "builtins.isinstance"), ("builtins_module", "name __builtins__"),
                          ("sys_modules", "sys.modules['numpy.testing']"), ("module_rebind", "name np"),
                          ("ast_strip", "IPython shell.ast_transformers"), ("custom_exc", "custom_exceptions"),
                          ("pre_run_hook", "IPython events.pre_run_cell"), ("trace_function", "sys.settrace"),
                          ("input_transformer", "IPython shell.input_transformers_cleanup"),
                          ("thread_repatch", "threads started by the submission were running: repatcher"),
                          ("editor", "test cells restored from the source: test_double (edited)"),
                          ("forger", "the kernel sent a second reply (the first was forged) for: test_double")]:
        assert any(what in note for note in notes.get(student, [])), (student, notes.get(student))


def test_nbgrader_and_the_grader_read_each_cell_alike(graded):
    """The points are nbgrader's; the reasons the grader's reading: they never disagree."""
    assert not [r for r in graded["review"] if "nbgrader scored" in r["note"]], graded["review"]


def test_the_kernel_sees_no_grader_folder(graded):
    facts = json.loads((graded["probe"] / "facts.json").read_text(encoding="utf-8"))
    cwd = Path(facts["cwd"])
    subs, source = graded["subs"], graded["source"]
    for folder in (subs, source, ROOT):
        assert not cwd.is_relative_to(folder.resolve()), (cwd, folder)
    assert facts["listing"] == [] and facts["notebooks"] == [], facts  # an empty folder of its own
    assert not any(facts["relative"].values()), facts["relative"]
    assert not [n for n in facts["parents"][0] if "course" in n or "nbgrader" in n or n.endswith(".db")], facts
    for value in list(facts["env"].values()) + facts["argv"]:
        assert str(source) not in value and str(subs) not in value, value
    assert not Path(facts["wrote"]).exists()  # the kernel's folder is gone after grading
    assert not list(subs.rglob("written_by_student.txt")) and not list(ROOT.rglob("written_by_student.txt"))


def test_feedback_per_student(graded):
    page = (graded["subs"] / "raiser_added_cell" / "feedback" / f"{NAME}.html").read_text(encoding="utf-8")
    assert f"Score: <b>{FULL} / {FULL}</b>" in page
    assert "your cell 1 raised RuntimeError: oops" in page
    page = (graded["subs"] / "editor" / "feedback" / f"{NAME}.html").read_text(encoding="utf-8")
    assert "AssertionError: 2" in page  # the visible test's message: double(2) gave 2
    page = (graded["subs"] / "absent" / "feedback" / f"{NAME}.html").read_text(encoding="utf-8")
    assert "Not graded (missing)" in page


def test_serial_and_parallel_agree_and_regrading_is_idempotent(tmp_path, source):
    """Grading again, one notebook at a time, gives the same bytes as grading in parallel."""
    subs = tmp_path / "subs"
    for name in ["perfect", "blank", "raiser", "numpy_testing", "exit", "deleter", "empty"]:
        _write(subs, name, STUDENTS[name][0](tmp_path))
    _grade(subs, source, "--jobs", "2")
    first = {p.relative_to(subs): p.read_bytes() for p in sorted(subs.rglob("*")) if p.is_file()}
    _grade(subs, source, "--jobs", "1")
    second = {p.relative_to(subs): p.read_bytes() for p in sorted(subs.rglob("*")) if p.is_file()}
    assert first.keys() == second.keys()
    for path in first:
        assert first[path] == second[path], path
    rows = _read_csv(subs / "grades.csv")
    assert _total(rows, "numpy_testing") == FULL - 4 and _total(rows, "exit") == 7


def test_grading_in_process_returns_rows(tmp_path, source):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    nbformat.write(_solved(), tmp_path / "subs" / "alice" / f"{NAME}.ipynb")
    rows = grading.grade(tmp_path / "subs", source, feedback=False, jobs=1, timeout=TIMEOUT, echo=lambda *a: None)
    assert [(r["part"], r["points"], r["status"]) for r in rows] == [(p, float(v), "graded") for p, v in POINTS.items()]
    assert not (tmp_path / "subs" / "alice" / "feedback").exists()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state  # a zombie is gone, only not yet reaped


def test_no_kernel_is_left_running(graded):
    """Kernels of a killed grading process, and kernels that ignored the interrupt, are stopped."""
    pids = [int(line) for line in (graded["probe"] / "pids.txt").read_text().split()]
    assert len(pids) == 2  # unstoppable and kill_parent
    assert not [pid for pid in pids if _alive(pid)]
