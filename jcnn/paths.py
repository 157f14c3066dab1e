"""Where jcnn keeps its caches: the one place that knows.

Decoded datasets, prepared TFDS datasets, detection canvases, the oneDNN kernel library
and the XLA compilation cache all live under `cache_dir()`. This module imports nothing
from jcnn, so any layer may ask it.
"""
import os
import pathlib


def cache_dir() -> pathlib.Path:
  """$JCNN_CACHE_DIR, else ~/.cache/jcnn."""
  return pathlib.Path(os.environ.get("JCNN_CACHE_DIR", "~/.cache/jcnn")).expanduser()
