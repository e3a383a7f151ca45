"""ruff over the package, tests, benchmarks and notebooks (the rules are in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "labcode", "tests", "bench"], ["nbqa", "ruff", "chapters", "solutions"]],
    ids=["python", "notebooks"],
)
def test_ruff_is_clean(command):
    exe = BIN / command[0]
    if not exe.exists():
        found = shutil.which(command[0])
        if found is None:
            pytest.skip(f"{command[0]} is not installed")
        exe = Path(found)
    result = subprocess.run([str(exe), *command[1:]], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
