"""Grading a folder of submissions: scan, grade in parallel worker processes, write the results.

Parallelism: every (student, exercise) notebook is one job; jobs go to a pool
of worker processes (one per core by default; ``jobs=1`` is serial). A job
owns everything it touches (a temporary folder, a fresh kernel) and returns
its result; nothing is shared between jobs, so the results do not depend on
the number of workers or on the order jobs finish in, and only the main
process writes files, after every kernel is gone. A worker process that dies
(a submission killed its parent) breaks the pool: its jobs are graded again,
each alone, and a job that kills its worker again is recorded as an error.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from .errors import GradingError
from .exercise import Exercise, Job, load_exercise
from .release import source_notebooks
from .report import feedback_html, part_titles, rows_of, summary, write_csv, write_review

CELL_TIMEOUT = 60  # seconds per cell (nbgrader's default of 30 s is too short for training cells)
MAX_OUTPUT = 100_000  # characters of text kept per cell; the rest of what a cell prints is dropped
# TensorFlow's C++ log lines on stderr ("2024-05-01 12:00:00.123456: I tensorflow/...",
# "W0000 00:00:1714564800.123456   123 file.cc:45] ...") are not the student's output, yet any
# stderr in a test cell scores it 0: stderr outputs they are in are ignored (nbgrader's IgnorePattern).
TF_LOG_PATTERN = (r"(?m)^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "
                  r"|[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ \S+:\d+\] "
                  r"|WARNING: All log messages before absl::InitializeLog\(\) is called)")


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def grade(submissions, source="solutions", *, timeout: float = CELL_TIMEOUT, feedback: bool = True,
          jobs: int | None = None, max_output: int = MAX_OUTPUT, echo=print, progress: bool | None = None,
          guard: bool = True) -> list[dict]:
    """Autograde ``submissions/<student>/<NN_topic>.ipynb``; write grades.csv, review.csv and feedback.

    Returns the rows of grades.csv as dicts (points as floats). ``jobs``: worker
    processes (default: one per core); ``progress``: a progress bar (default:
    when stderr is a terminal).
    """
    from .autograde import Settings
    from .nbgrader_course import make_template

    submissions = Path(submissions)
    if not submissions.is_dir():
        raise GradingError(f"submissions directory {str(submissions)!r} does not exist "
                           "(expected SUBMISSIONS/<student>/<NN_topic>.ipynb)")
    if timeout <= 0:
        raise GradingError(f"the timeout must be positive, got {timeout}")
    exercises = []
    for path in source_notebooks(source):
        try:
            exercises.append(load_exercise(path))
        except Exception as e:
            raise GradingError(f"cannot read the source notebook {path}: {type(e).__name__}: {e}") from None
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not students:
        raise GradingError(f"no student folders in {str(submissions)!r} "
                           "(expected SUBMISSIONS/<student>/<NN_topic>.ipynb)")
    started = time.monotonic()
    watched = _watch(exercises, source)
    run_dir = Path(tempfile.mkdtemp(prefix="labcode-grading-run-"))  # every job's folder and kernel lives in here
    # nbgrader's course directories live apart from the kernels' folders: no path relative to a kernel reaches them
    courses = Path(tempfile.mkdtemp(prefix="labcode-grading-nbgrader-"))
    work = [Job(student, ex, str(submissions / student / f"{ex.name}.ipynb"),
                _digest(submissions / student / f"{ex.name}.ipynb"), exercises)
            for student in students for ex in exercises]
    workers = min(jobs or default_jobs(), len(work))
    try:
        template = make_template(source_notebooks(source), courses / "template")
        settings = Settings(timeout=float(timeout), max_output=int(max_output), ignore_pattern=TF_LOG_PATTERN,
                            hide=(str(Path(source)), str(submissions), str(courses)), guard=guard,
                            tmpdir=str(run_dir), template=str(template), courses=str(courses))
        results = _grade_all(work, settings, workers, echo, progress)
    finally:
        _kill_orphans(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(courses, ignore_errors=True)
    changed = _changed(watched, _watch(exercises, source))

    rows = rows_of(results)
    write_csv(submissions / "grades.csv", rows)
    flagged = write_review(submissions / "review.csv", results)
    if feedback:
        titles = {ex.name: part_titles(ex) for ex in exercises}
        for r in results:
            folder = submissions / r.student / "feedback"
            folder.mkdir(exist_ok=True)
            page = feedback_html(r, titles[r.exercise], timeout)
            (folder / f"{r.exercise}.html").write_text(page, encoding="utf-8", newline="\n")
    echo(summary(rows))
    graded = sum(r.status == "graded" for r in results)
    echo(f"graded {graded} of {len(results)} notebooks in {time.monotonic() - started:.0f} s "
         f"with {workers} worker{'s' if workers > 1 else ''}")
    if flagged:
        echo(f"{flagged} note(s) for review in {submissions / 'review.csv'} "
             "(what submissions changed that the grader had to put back)")
    for path in changed:
        echo(f"WARNING: {path} changed while grading: a submission may have written to it; "
             "check it and grade again")
    echo(f"wrote {submissions / 'grades.csv'}" + (" and feedback/ per student" if feedback else ""))
    return rows


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    except OSError:
        return None


def _grade_all(work: list[Job], settings, workers: int, echo, progress) -> list:
    """Results in the order of ``work``, whatever the order jobs finish in."""
    from tqdm import tqdm

    results: dict[int, object] = {}
    bar = tqdm(total=len(work), unit="notebook", desc="grading", file=sys.stderr, dynamic_ncols=True,
               disable=(not sys.stderr.isatty()) if progress is None else not progress)

    def done(i, result):
        results[i] = result
        bar.update()
        line = f"  {result.student:<20} {result.exercise:<20} {result.points:g}/" \
               f"{sum(p.max_points for p in result.parts):g}  {result.status}"
        if bar.disable:
            echo(line)
        else:
            bar.write(line, file=sys.stdout)

    try:
        _pool(list(enumerate(work)), settings, workers, done)
    finally:
        bar.close()
    return [results[i] for i in range(len(work))]


class _Worker:
    """A worker process (``python -m labcode.grading.worker``): jobs in on stdin, results out on stdout.

    Its own interpreter, not multiprocessing: nothing of the caller (its ``__main__``, its threads) is
    copied or imported again, and when a worker dies, the job it was running is known exactly.
    """

    def __init__(self, run_dir: Path, n: int):
        import subprocess

        import labcode

        env = dict(os.environ)
        home = str(Path(labcode.__file__).resolve().parents[1])  # the labcode this process runs
        env["PYTHONPATH"] = home + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.log = run_dir / f"worker-{n}.log"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "labcode.grading.worker"], cwd=run_dir, env=env,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)

    def grade(self, job, settings, workdir: Path):
        from .worker import receive, send

        send(self.process.stdin, (job, settings, str(workdir)))
        return receive(self.process.stdout)  # EOFError if the worker died

    def last_words(self) -> str:
        """The last line the worker wrote to its log (a grader bug's traceback ends there), if any."""
        try:
            lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return ""
        return f"; it last said: {lines[-1].strip()[:200]}" if lines else ""

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except Exception:
            self.process.kill()
            self.process.wait()


def _pool(pending, settings, workers: int, done) -> None:
    """Grade jobs on ``workers`` worker processes (threads here only wait for them)."""
    import queue
    import threading

    from .autograde import _zero

    run_dir = Path(settings.tmpdir)
    jobs: queue.Queue = queue.Queue()
    for item in pending:
        jobs.put(item)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def serve(n: int) -> None:
        worker = None
        try:
            while True:
                try:
                    i, job = jobs.get_nowait()
                except queue.Empty:
                    return
                workdir = run_dir / f"job-{i}"
                worker = worker or _Worker(run_dir, n)
                try:
                    result = worker.grade(job, settings, workdir)
                except (EOFError, OSError):  # the worker died with this job: the job killed it, or it crashed
                    worker.close()
                    _kill_orphans(workdir)
                    result = _zero(job, "error", "the grading process died while running this notebook "
                                                 "(did the notebook kill its parent process?)" + worker.last_words())
                    worker = None
                shutil.rmtree(workdir, ignore_errors=True)
                with lock:
                    done(i, result)
        except BaseException as e:  # noqa: BLE001 - reported below, in the main thread
            errors.append(e)
        finally:
            if worker is not None:
                worker.close()

    threads = [threading.Thread(target=serve, args=(n,), daemon=True) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _kill_orphans(folder: Path) -> None:
    """Kernels left behind by a worker that died (they work in a folder under ``folder``): stop them."""
    prefix = str(folder) + os.sep
    for proc in Path("/proc").glob("[0-9]*"):  # Linux; elsewhere there is nothing to look at
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd.startswith(prefix) and int(proc.name) != os.getpid():
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except OSError:
                pass


# ------------------------------------------------------------------------- files a submission should not change
def _watch(exercises: list[Exercise], source) -> dict[str, tuple]:
    """A cheap signature of the files that decide grades: the sources, and the packages the tests import."""
    import importlib.util
    import site
    import sysconfig

    sig = {str(p): ("sha256", _digest(p)) for p in source_notebooks(source)}
    roots = {r for ex in exercises for r in ex.roots} - set(sys.builtin_module_names) - set(sys.stdlib_module_names)
    folders = []
    for root in sorted(roots):
        try:
            spec = importlib.util.find_spec(root)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.submodule_search_locations:
            folders += list(spec.submodule_search_locations)
        elif spec is not None and spec.origin and os.path.isfile(spec.origin):
            sig[spec.origin] = _stat(spec.origin)
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for name in filenames:
                if not name.endswith((".pyc", ".pyo")):
                    path = os.path.join(dirpath, name)
                    sig[path] = _stat(path)
    site_dirs = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    if site.ENABLE_USER_SITE:
        site_dirs.add(site.getusersitepackages())
    for folder in site_dirs:  # start-up hooks every later Python (kernel) would run
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
            if name.endswith(".pth") or name in ("sitecustomize.py", "usercustomize.py"):
                sig[os.path.join(folder, name)] = _stat(os.path.join(folder, name))
        sig[folder + os.sep + "*.pth"] = ("names", tuple(sorted(n for n in (os.listdir(folder) if os.path.isdir(
            folder) else ()) if n.endswith(".pth") or n in ("sitecustomize.py", "usercustomize.py"))))
    return sig


def _stat(path) -> tuple:
    try:
        st = os.stat(path)
        return ("stat", st.st_size, st.st_mtime_ns)
    except OSError:
        return ("stat", None)


def _changed(before: dict, after: dict) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
