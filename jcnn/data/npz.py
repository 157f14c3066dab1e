"""Reading the `.npz` files jcnn writes (decoded image folders, canvases, proposals, R-CNN
detectors) without trusting them: a cache is a file anyone could have swapped, so it is
never unpickled, and a damaged one is one ValueError naming it."""
import os
import zipfile
import zlib

import numpy as np

# What np.load raises on a damaged, truncated or pickled .npz (KeyError: a missing array).
UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


def load(path: str | os.PathLike, keys=None) -> dict[str, np.ndarray]:
  """The arrays `keys` (default: all) of the .npz at `path`, read into memory.

  Raises:
    ValueError: naming `path`, when it is not an .npz, is damaged, lacks one of `keys`
      or holds pickled (object) arrays.
  """
  try:
    stored = np.load(path, allow_pickle=False)
    if not isinstance(stored, np.lib.npyio.NpzFile):
      raise ValueError("one .npy array, not an .npz archive")
    with stored:
      return {k: stored[k] for k in (stored.files if keys is None else keys)}
  except UNREADABLE as e:
    raise ValueError(f"{path}: not a readable .npz file ({type(e).__name__}: {e}); "
                     "delete it if it is a cache") from None
