"""The package's promises about itself: light import, seeding, the conda file."""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normalise(req: str) -> str:
    return req.replace(" ", "").lower()


def test_environment_yml_lists_the_same_packages_as_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict))
    conda_reqs = {_normalise(r) for r in pip_section if not r.startswith("-")}
    assert "--editable ." in pip_section  # installs labcode itself

    project = _pyproject()["project"]
    wanted = set(map(_normalise, project["dependencies"]))
    for reqs in project["optional-dependencies"].values():
        wanted |= {_normalise(r) for r in reqs if not r.startswith("labcode")}
    assert conda_reqs == wanted


def test_constraints_pin_every_dependency():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    project = _pyproject()["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += [r for r in extra if not r.startswith("labcode")]
    for req in reqs:
        name = req.split(">")[0].split("<")[0].split("=")[0].strip().lower()
        assert name in pins, f"{name} is not pinned in constraints.txt"
    assert pins["jupyter-book"].startswith("1.")  # 2.x cannot build offline


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_labcode_does_not_import_tensorflow():
    result = _run(
        "import json, sys\n"
        "import labcode, labcode.autodiff, labcode.gradcheck\n"
        "print(json.dumps({'mods': [m for m in ('tensorflow', 'keras', 'matplotlib.pyplot', 'IPython')"
        " if m in sys.modules]}))"
    )
    assert result["mods"] == []


def test_seed_without_tensorflow_is_reproducible_and_leaves_tensorflow_unimported():
    code = (
        "import json, random, sys, numpy as np, labcode\n"
        "labcode.seed(7, tensorflow=False); a = [random.random(), float(np.random.rand())]\n"
        "labcode.seed(7, tensorflow=False); b = [random.random(), float(np.random.rand())]\n"
        "print(json.dumps({'a': a, 'b': b, 'tf': 'tensorflow' in sys.modules}))"
    )
    r = _run(code)
    assert r["a"] == r["b"] and not r["tf"]


def test_seed_makes_tensorflow_reproducible():
    pytest.importorskip("tensorflow")
    code = (
        "import json, os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
        "import labcode\n"
        "labcode.seed(3); import tensorflow as tf; a = tf.random.uniform((3,)).numpy().tolist()\n"
        "import keras; w1 = keras.layers.Dense(2); w1.build((None, 2))\n"
        "labcode.seed(3); b = tf.random.uniform((3,)).numpy().tolist()\n"
        "w2 = keras.layers.Dense(2); w2.build((None, 2))\n"
        "print(json.dumps({'a': a, 'b': b, 'same_init': bool((w1.kernel.numpy() == w2.kernel.numpy()).all())}))"
    )
    r = _run(code)
    assert r["a"] == r["b"] and r["same_init"]


@pytest.mark.parametrize("bad,error", [("1", TypeError), (1.5, TypeError), (True, TypeError), (-1, ValueError)])
def test_seed_rejects_bad_seeds(bad, error):
    import labcode

    with pytest.raises(error, match="non-negative int"):
        labcode.seed(bad, tensorflow=False)


def test_show_source_returns_the_real_code():
    import labcode
    from labcode.autodiff import Value

    code = labcode.show_source(Value.backward)
    assert "def backward(self)" in code.data
    with pytest.raises(TypeError, match="defined in Python"):
        labcode.show_source(len)


def test_import_tensorflow_is_quiet(tmp_path):
    pytest.importorskip("tensorflow")
    code = (
        "import labcode, sys\n"
        "tf = labcode.import_tensorflow()\n"
        "assert tf is sys.modules['tensorflow'] and labcode.import_tensorflow() is tf\n"
        "print(float(tf.reduce_sum(tf.ones(3))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "", "HOME": str(tmp_path)})
    assert out.stdout.strip() == "3.0"
    assert out.stderr == ""
