"""A grading worker process: ``python -m labcode.grading.worker`` (started by batch.py, not by hand).

Reads ``(job, settings, workdir)`` from stdin, grades, writes the result to
stdout; messages are pickles with a length in front. Its stdout is kept for
that alone: anything else printed goes to stderr (batch.py sends it to a log).
"""

import os
import pickle
import struct
import sys

_LENGTH = struct.Struct(">Q")


def send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def receive(stream):
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the other side closed the pipe")
    size = _LENGTH.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe")
    return pickle.loads(data)  # noqa: S301 - between this package's own processes


def main() -> int:
    from .autograde import _zero, grade_job

    results = os.fdopen(os.dup(1), "wb")  # a private copy of stdout (not inheritable: kernels cannot write to it)
    os.dup2(2, 1)  # fd 1 now goes where stderr goes
    sys.stdout = sys.stderr
    jobs = sys.stdin.buffer
    while True:
        try:
            job, settings, workdir = receive(jobs)
        except EOFError:
            return 0
        try:
            result = grade_job(job, settings, workdir)
        except Exception as e:  # a bug of the grader's, not the notebook's: say so in its row, go on
            result = _zero(job, "error", f"grader error: {type(e).__name__}: {e}"[:300])
        send(results, result)


if __name__ == "__main__":
    sys.exit(main())
