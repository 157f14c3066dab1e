"""Shared fixtures: where the real datasets live; one OpenMP thread per xdist worker.

Tests that need `../shared/data` ask for the `shared_data` fixture, which marks them
`data` (so `-m "not data"` leaves out exactly them). Outside CI they are skipped with
the reason when the folder is missing; with `CI` set, a missing folder fails.
"""
import os
import pathlib
import shutil
import tempfile

import pytest

from jcnn import runtime  # light: it imports jax only inside its functions

# `pytest -n 2` runs two workers on two cores. oneDNN's OpenMP teams (jcnn.kernels)
# assume the cores are theirs; two teams of two threads on two cores wait on each
# other's preempted threads at every barrier, and a step of many small convolutions
# slows a hundredfold. One thread per worker keeps the cores shared out. Set before
# anything loads libgomp, which reads it once.
if os.environ.get("PYTEST_XDIST_WORKER"):
  os.environ.setdefault("OMP_NUM_THREADS", "1")

# Programs that several tests build alike (a tiny config's train step, a run and its
# resumed copy, a checkpoint restored by eval) compile once per suite run: XLA's
# persistent cache, in a fresh folder that the xdist workers (started after
# pytest_configure, with its environment) share and the controller removes at the end.
# tests/jcnn/tasks/test_detection_task.py alone: 151 -> 114 s.
_CACHE_FOLDER = pytest.StashKey[str]()


def pytest_configure(config):
  if os.environ.get("PYTEST_XDIST_WORKER") or "JAX_COMPILATION_CACHE_DIR" in os.environ:
    return
  config.stash[_CACHE_FOLDER] = tempfile.mkdtemp(prefix="jcnn-tests-xla-")
  os.environ["JAX_COMPILATION_CACHE_DIR"] = config.stash[_CACHE_FOLDER]
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = str(runtime.MIN_COMPILE_S)


def pytest_unconfigure(config):
  if _CACHE_FOLDER in config.stash:
    shutil.rmtree(config.stash[_CACHE_FOLDER], ignore_errors=True)


_DEFAULT = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data_dir() -> pathlib.Path | None:
  """The real-data folder: $JCNN_DATA_DIR, else ../shared/data beside the repo."""
  path = pathlib.Path(os.environ.get("JCNN_DATA_DIR", _DEFAULT))
  return path if path.is_dir() else None


def pytest_collection_modifyitems(config, items):
  for item in items:
    if "shared_data" in getattr(item, "fixturenames", ()):
      item.add_marker(pytest.mark.data)


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
  path = shared_data_dir()
  if path is None:
    message = (f"real datasets not found: set JCNN_DATA_DIR or provide {_DEFAULT} "
               "(see ../shared/data/README.md)")
    if os.environ.get("CI"):
      pytest.fail(message)
    pytest.skip(message)
  return path

