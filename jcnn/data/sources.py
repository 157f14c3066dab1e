"""`load`: one way to ask for a split, whatever the dataset's source."""
import os
import pathlib

from jcnn import paths
from jcnn.data.digits import load_digits
from jcnn.data.image_folder import load_image_folder
from jcnn.data.split import Split
from jcnn.data.tfds_source import load_tfds


def load(name: str, split: str, *, data_dir: str | os.PathLike | None = None,
         cache_dir: str | os.PathLike | None = None) -> Split:
  """Loads a whole split into memory.

  Args:
    name: "digits" (scikit-learn's, bundled), "image_folder" (`data_dir` is a folder or
      .zip laid out <split>/<class>/<image>), or a TFDS name ("mnist", "cifar10", ...)
      prepared offline from its original files in `data_dir` (default
      $JCNN_DATA_DIR/<name>).
    split: "train" or "test" for digits; a split folder for image_folder; a TFDS split
      string for TFDS.
    data_dir: where the source files are; not used by "digits".
    cache_dir: where extracted zips, decoded image folders (default `paths.cache_dir()`)
      and prepared TFDS datasets (default `paths.cache_dir() / "tfds"`) are kept.

  Returns:
    The split, images [N, H, W, C] uint8 and labels [N] int32.
  """
  if name == "digits":
    if data_dir is not None:
      raise ValueError(f"digits is bundled with scikit-learn and reads no data_dir, got "
                       f"{data_dir!r}")
    return load_digits(split)
  if name == "image_folder":
    if data_dir is None:
      raise ValueError("image_folder needs data_dir: a folder or .zip laid out "
                       "<split>/<class>/<image>")
    return load_image_folder(data_dir, split, _path(cache_dir) or paths.cache_dir())
  if data_dir is not None:
    manual_dir = pathlib.Path(data_dir).expanduser()
  elif "JCNN_DATA_DIR" in os.environ:
    manual_dir = pathlib.Path(os.environ["JCNN_DATA_DIR"]).expanduser() / name
  else:
    manual_dir = None
  return load_tfds(name, split, manual_dir, _path(cache_dir) or paths.cache_dir() / "tfds")


def _path(path: str | os.PathLike | None) -> pathlib.Path | None:
  return None if path is None else pathlib.Path(path).expanduser()
