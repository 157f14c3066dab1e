"""scikit-learn's bundled 8x8 digits: real data that needs no download and no TF."""
import numpy as np
from sklearn import datasets
from sklearn import model_selection

from jcnn.data.split import Split

SPLITS = ("train", "test")


def load_digits(split: str) -> Split:
  """The 1,797 digits, split 75/25 stratified with a fixed seed (1,347 train / 450 test).

  Pixels 0..16 are scaled to uint8 0..255, so every source feeds the pipeline the same way.

  Returns:
    A Split with images [N, 8, 8, 1] uint8.
  """
  if split not in SPLITS:
    raise ValueError(f"digits has splits {SPLITS}, got {split!r}")
  bunch = datasets.load_digits()
  images = np.round(bunch.images * 255 / 16).astype(np.uint8)[..., None]
  labels = bunch.target.astype(np.int32)
  train_x, test_x, train_y, test_y = model_selection.train_test_split(
      images, labels, test_size=0.25, stratify=labels, random_state=0)
  x, y = (train_x, train_y) if split == "train" else (test_x, test_y)
  return Split(images=x, labels=y, class_names=tuple(str(c) for c in bunch.target_names),
               name="digits", split=split)
