"""Shared fixtures: where the real datasets live.

Tests that need `../shared/data` ask for the `shared_data` fixture. Outside CI they are
skipped with the reason when the folder is missing; with `CI` set, a missing folder fails.
"""
import os
import pathlib

import pytest

_DEFAULT = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data_dir() -> pathlib.Path | None:
  """The real-data folder: $JCNN_DATA_DIR, else ../shared/data beside the repo."""
  path = pathlib.Path(os.environ.get("JCNN_DATA_DIR", _DEFAULT))
  return path if path.is_dir() else None


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

