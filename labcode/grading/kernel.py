"""A throw-away IPython kernel that runs one submission, cell by cell.

What it guarantees the grader, whatever the cells do:

- **time**: each cell gets ``timeout`` seconds; then the kernel is interrupted
  (``KeyboardInterrupt``), and if the cell still does not finish within
  ``GRACE`` seconds (it catches the interrupt, ignores SIGINT, sits in C code)
  the kernel is killed and the rest of the notebook is not run;
- **death**: a kernel that exits (``os._exit``, a segfault, the OOM killer) is
  noticed within a fraction of a second, with its exit status;
- **output**: every output message is looked at once and dropped; a cell keeps
  at most ``max_output`` characters of text (for the feedback), whatever it
  prints; an error's message and traceback are cut to size too;
- **place**: the kernel starts in its own empty working directory with an
  environment that names neither the source nor the submissions folder, its
  own ``IPYTHONDIR`` (no startup files a previous submission could have left
  in ``~/.ipython``), an explicit command line (``sys.executable -m
  ipykernel_launcher``: no kernelspec lookup a submission could redirect), IPC
  sockets in that directory, and no core dumps.

It is *not* a sandbox: the kernel runs as the grader's user and can read and
write whatever that user can (README.md, "Exercises and grading").
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

GRACE = 5.0  # seconds a timed-out cell gets to honour the interrupt before the kernel is killed
STARTUP_TIMEOUT = 120.0  # seconds for a kernel to come up on a busy machine
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MAX_TRACEBACK_LINES = 100  # as nbgrader's LimitOutput
MAX_ERROR_CHARS = 4000


@dataclass
class Execution:
    """What one cell did."""

    status: str = "ok"  # "ok" | "error" | "timeout" | "stuck" (killed after a timeout) | "dead"
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)
    stderr: bool = False  # wrote to stderr (outside the ignore pattern): a test cell scores 0 (nbgrader's rule)
    text: str = ""  # the first max_output characters of its stdout/stderr, as printed
    output_chars: int = 0  # characters of text/data it produced in all
    result: str | None = None  # text/plain of its last execute_result (partial credit)
    execution_count: int | None = None
    seconds: float = 0.0
    expressions: dict = field(default_factory=dict)
    forged: bool = False  # a second reply came for it: the first was not the kernel's own

    @property
    def failed(self) -> bool:
        return self.status != "ok" or self.stderr or bool(self.ename) or self.forged


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n] + f"… [{len(text) - n} more characters]"


class Kernel:
    """``async with Kernel(workdir, env) as k: await k.run(code, timeout)``."""

    def __init__(self, workdir: Path, env: dict[str, str], *, max_output: int, ignore_pattern: str | None = None):
        self.workdir = Path(workdir)
        self.env = env
        self.max_output = max_output
        self.ignore = re.compile(ignore_pattern) if ignore_pattern else None
        self.km = None
        self.kc = None
        self.dead = False
        self._log = None
        self.executions: dict[str, Execution] = {}  # every request's record, by message id

    async def __aenter__(self):
        from jupyter_client import AsyncKernelManager
        from jupyter_client.kernelspec import KernelSpec

        prefix = str(self.workdir / "k")
        transport = "ipc" if len(prefix) < 90 else "tcp"  # a Unix socket's path has to stay short
        self.km = AsyncKernelManager(transport=transport, ip=prefix if transport == "ipc" else "127.0.0.1",
                                     connection_file=str(self.workdir / "kernel.json"), autorestart=False)
        self.km._kernel_spec = KernelSpec(  # explicit: a kernelspec in ~/.local/share/jupyter cannot redirect it
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python (grader)", language="python", interrupt_mode="signal", env={})
        self._log = open(self.workdir / "kernel.log", "wb")  # closed in __aexit__
        try:
            await self.km.start_kernel(
                extra_arguments=["--IPKernelApp.log_level=ERROR", "--HistoryManager.hist_file=:memory:"],
                cwd=str(self.workdir / "work"), env=self.env, stdout=subprocess.DEVNULL, stderr=self._log)
            _no_core_dumps(self.km.provisioner.process.pid)
            self.kc = self.km.client()
            self.kc.start_channels()
            await self.kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc):
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None and self.km.has_kernel:
            try:
                await self.km.shutdown_kernel(now=True)
            except Exception:
                pass
        if self._log is not None:
            self._log.close()

    def exit_reason(self) -> str:
        """How the kernel process ended, e.g. "killed by SIGSEGV" or "exit status 1"."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return "exit status unknown"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    async def run(self, code: str, timeout: float, *, silent: bool = False, expressions=None) -> Execution:
        """Execute one cell; never raises for anything the cell does."""
        ex = Execution()
        if self.dead:
            ex.status = "dead"
            return ex
        start = time.monotonic()
        msg_id = self.kc.execute(code, silent=silent, store_history=not silent, allow_stdin=False,
                                 stop_on_error=False, user_expressions=expressions or {})
        self.executions[msg_id] = ex
        reply: dict = {}
        work = asyncio.ensure_future(asyncio.gather(self._reply(msg_id, reply), self._outputs(msg_id, ex)))
        death = asyncio.ensure_future(self._death())
        try:
            done, _ = await asyncio.wait({work, death}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not done:  # over time: interrupt, and give it a moment to stop
                await self.km.interrupt_kernel()
                done, _ = await asyncio.wait({work, death}, timeout=GRACE, return_when=asyncio.FIRST_COMPLETED)
                if work in done:
                    ex.status = "timeout"
                else:
                    ex.status = "stuck" if not done else "dead"
                    self.dead = True
            elif death in done and work not in done:
                ex.status = "dead"
                self.dead = True
        finally:
            for task in (work, death):
                task.cancel()
            await asyncio.gather(work, death, return_exceptions=True)
        ex.seconds = time.monotonic() - start
        content = reply.get("content", {})
        if ex.status == "ok" and content.get("status") == "error":
            ex.status = "error"
            if not ex.ename:  # an error the kernel did not show (showtraceback patched away): still an error
                ex.ename, ex.evalue = content.get("ename", "Error"), _cut(str(content.get("evalue", "")), 500)
        ex.expressions = content.get("user_expressions", {}) or {}
        if ex.status == "ok" and ex.ename:  # an error output, yet a reply saying "ok": trust the error
            ex.status = "error"
        return ex

    # Messages about an earlier request (an error after a forged "idle", a second "reply") still count:
    # they go to that request's record, which is scored only when the whole notebook has run.
    async def _reply(self, msg_id: str, reply: dict) -> None:
        while True:
            msg = await self.kc.get_shell_msg(timeout=None)
            parent = msg["parent_header"].get("msg_id")
            if parent == msg_id:
                reply.update(msg)
                return
            if parent in self.executions:
                earlier = self.executions[parent]
                earlier.forged = True
                if msg["content"].get("status") == "error" and not earlier.ename:
                    earlier.ename = str(msg["content"].get("ename", "Error"))[:200]
                    earlier.evalue = _cut(str(msg["content"].get("evalue", "")), 500)

    async def _outputs(self, msg_id: str, ex: Execution) -> None:
        while True:
            msg = await self.kc.get_iopub_msg(timeout=None)
            parent = msg["parent_header"].get("msg_id")
            if parent == msg_id:
                if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                    return
                self._handle(ex, msg)
            elif parent in self.executions and msg["msg_type"] != "status":
                self._handle(self.executions[parent], msg)

    def _handle(self, ex: Execution, msg: dict) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "execute_input":
            ex.execution_count = content.get("execution_count")
        elif kind == "stream":
            text = str(content.get("text", ""))
            if content.get("name") == "stderr":
                if self.ignore is not None and self.ignore.search(text):
                    return  # nbgrader's IgnorePattern: this stderr output does not count
                ex.stderr = True
            self._keep(ex, text)
        elif kind == "error":
            ex.ename = _cut(str(content.get("ename", "")), 200) or "Error"
            ex.evalue = _cut(str(content.get("evalue", "")), MAX_ERROR_CHARS)
            tb = [_cut(ANSI.sub("", str(line)), MAX_ERROR_CHARS) for line in content.get("traceback", [])]
            if len(tb) > MAX_TRACEBACK_LINES:
                half = MAX_TRACEBACK_LINES // 2
                tb = tb[:half] + ["... traceback truncated ..."] + tb[-half:]
            ex.traceback = tb
        elif kind in ("execute_result", "display_data"):
            data = content.get("data", {}) or {}
            size = sum(len(v) if isinstance(v, str) else len(str(v)) for v in data.values())
            plain = data.get("text/plain")
            plain = "".join(plain) if isinstance(plain, list) else plain
            if kind == "execute_result":
                ex.result = _cut(str(plain), 200) if plain is not None else None
                self._keep(ex, str(plain or "") + "\n", count=size)
            else:
                ex.output_chars += size

    def _keep(self, ex: Execution, text: str, count: int | None = None) -> None:
        ex.output_chars += len(text) if count is None else count
        room = self.max_output - len(ex.text)
        if room > 0:
            ex.text += text[:room]

    async def _death(self) -> None:
        while await self.km.is_alive():
            await asyncio.sleep(0.2)


def _no_core_dumps(pid: int) -> None:
    """A segfaulting submission should not leave (or spend seconds writing) a core file."""
    try:
        import resource

        resource.prlimit(pid, resource.RLIMIT_CORE, (0, 0))
    except (ImportError, AttributeError, OSError, ValueError):
        pass


def kernel_env(workdir: Path, hide: list[Path]) -> dict[str, str]:
    """The kernel's environment: ours, minus anything naming a folder it should not find."""
    needles = set()
    for path in hide:
        for p in (path, path.absolute(), path.resolve()):
            if len(str(p)) > 3:
                needles.add(str(p))
    drop = {"OLDPWD", "MAKEFLAGS", "MFLAGS", "SOURCE", "SUBMISSIONS", "JPY_PARENT_PID"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not any(n in v for n in needles)}
    env.update(PWD=str(workdir / "work"), IPYTHONDIR=str(workdir / "ipython"), PYTHONDONTWRITEBYTECODE="1")
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # the same in serial and parallel
        env.setdefault(var, "1")
    return env
