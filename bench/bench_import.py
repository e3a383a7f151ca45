"""How long `import labcode` takes, against `import tensorflow`, in fresh processes.

The promise: importing labcode (and its autodiff and gradcheck modules) takes
at most 0.3 s and never imports TensorFlow, so the from-scratch chapters start
instantly. Each import runs in a new interpreter; the best of several runs is
reported, with the ratio to TensorFlow's import measured in the same run.
Exits non-zero if the promise is broken.
"""

import json
import subprocess
import sys

RUNS = 5
BUDGET_S = 0.3

PROBE = (
    "import json, sys, time\n"
    "t = time.perf_counter()\n"
    "import {module}\n"
    "print(json.dumps({{'s': time.perf_counter() - t, 'tf': 'tensorflow' in sys.modules}}))"
)


def best_import_time(module: str) -> tuple[float, bool]:
    results = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module)],
            capture_output=True, text=True, check=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""},
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return min(r["s"] for r in results), any(r["tf"] for r in results)


def main() -> int:
    ours, pulled_tf = best_import_time("labcode, labcode.autodiff, labcode.gradcheck")
    numpy_s, _ = best_import_time("numpy")
    tf_s, _ = best_import_time("tensorflow")
    print(f"{'import':<40} {'best of ' + str(RUNS):>12} {'vs tensorflow':>14}")
    for name, s in [("labcode (+ autodiff, gradcheck)", ours), ("numpy (which labcode needs)", numpy_s),
                    ("tensorflow", tf_s)]:
        print(f"{name:<40} {s:>10.3f} s {s / tf_s:>13.3f}x")
    ok = ours <= BUDGET_S and not pulled_tf
    print(f"budget {BUDGET_S} s, tensorflow imported: {pulled_tf} -> {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
