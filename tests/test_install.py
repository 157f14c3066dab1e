"""jcnn as a user installs it: a wheel, in a fresh virtualenv, run from outside the checkout.

The wheel is built from a copy of the repository (no build/ or egg-info left in it) and
installed into a new virtualenv with `--no-index`: the dependencies it declares must all
be satisfied by this environment's packages, which the new one sees through a `.pth` line
(appended after its own site-packages, so jcnn, train and eval come from the wheel).
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

import pytest

from tests.helpers import REPO

# What a source distribution would leave out: runs, caches, builds, version control.
_NOT_SOURCE = shutil.ignore_patterns(".git", "runs", "build", "dist", "*.egg-info",
                                     "__pycache__", ".pytest_cache", "*.ipynb_checkpoints")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
  """A virtualenv with jcnn's wheel installed; its bin folder and environment."""
  root = tmp_path_factory.mktemp("install")
  source = root / "source"
  shutil.copytree(REPO, source, ignore=_NOT_SOURCE)
  _check([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", root / "dist",
          source])
  (wheel,) = (root / "dist").glob("jcnn-*.whl")
  venv = root / "venv"
  _check([sys.executable, "-m", "venv", "--without-pip", venv])
  purelib = pathlib.Path(subprocess.check_output(
      [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
      text=True).strip())
  (purelib / "this_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
  env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
  env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
  _check([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-index", wheel],
         env=env, cwd=root)
  return {"bin": venv / "bin", "env": env, "cwd": root, "purelib": purelib}


def _check(argv, **kwargs) -> subprocess.CompletedProcess:
  proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


def test_the_wheel_ships_the_library_the_programs_and_their_configs(installed):
  where = _check([installed["bin"] / "python", "-c",
                  "import jcnn, train.configs.resnet20_cifar10, eval.commands.predict as p;"
                  "print(jcnn.__file__); print(p.__file__)"],
                 env=installed["env"], cwd=installed["cwd"]).stdout.split()
  assert all(pathlib.Path(w).is_relative_to(installed["purelib"]) for w in where), where
  assert (installed["purelib"] / "jcnn" / "kernels" / "onednn.cc").is_file()


def test_the_installed_programs_train_and_evaluate_the_default_job(installed):
  workdir = installed["cwd"] / "runs" / "default"
  train = _check([installed["bin"] / "jcnn-train", f"--workdir={workdir}"],
                 env=installed["env"], cwd=installed["cwd"])
  result = json.loads(train.stdout.splitlines()[-1])
  assert result["top1"] >= 0.97, result
  evaluate = _check([installed["bin"] / "jcnn-eval", "--workdir", workdir, "--json"],
                    env=installed["env"], cwd=installed["cwd"])
  assert json.loads(evaluate.stdout)["top1"] == pytest.approx(result["top1"])


def test_an_installed_config_is_found_by_name_from_any_folder(installed):
  proc = subprocess.run([installed["bin"] / "jcnn-train", "--config", "lenet5_mnist",
                         "--config.lerning_rate=0.1"], env=installed["env"],
                        cwd=installed["cwd"], capture_output=True, text=True)
  assert (proc.returncode, proc.stderr) == (
      2, "error: --config.lerning_rate: unknown config field 'lerning_rate'; "
         "did you mean learning_rate?\n")
