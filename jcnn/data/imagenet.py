"""ImageNet's 1,000 classes (ILSVRC-2012) from files an installed package ships: no download.

TensorFlow Datasets ships the WordNet ids in class-index order
(`tensorflow_datasets/datasets/imagenet2012/labels.txt`, the order every ImageNet-trained
torchvision, timm and Keras network uses) and their human-readable labels ("tench, Tinca
tinca", ...) in `tensorflow_datasets/datasets/siscore/labels.py`. Both are read as text
(the Python list through `ast.literal_eval`): nothing of TFDS is imported or run.
"""
import ast
import collections
import functools
import importlib.util
import pathlib

NUM_CLASSES = 1000
_LABELS_LIST = "IMAGENET_LABELS_LIST"


def _tfds_file(*parts: str) -> pathlib.Path:
  spec = importlib.util.find_spec("tensorflow_datasets")
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError("tensorflow_datasets is not installed: it ships ImageNet's "
                            "class list (pip install tensorflow-datasets)")
  path = pathlib.Path(next(iter(spec.submodule_search_locations)), *parts)
  if not path.is_file():
    raise FileNotFoundError(f"{path} is missing: this tensorflow_datasets does not ship "
                            "ImageNet's class list")
  return path


@functools.cache
def wordnet_ids() -> tuple[str, ...]:
  """The 1,000 WordNet ids ("n01440764", ...) in class-index order."""
  path = _tfds_file("datasets", "imagenet2012", "labels.txt")
  ids = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
  if len(ids) != NUM_CLASSES:
    raise ValueError(f"{path} lists {len(ids)} classes, not {NUM_CLASSES}")
  return ids


@functools.cache
def labels() -> tuple[str, ...]:
  """The 1,000 human-readable labels ("tench, Tinca tinca", ...) in class-index order."""
  path = _tfds_file("datasets", "siscore", "labels.py")
  for node in ast.parse(path.read_text(), str(path)).body:
    if (isinstance(node, ast.Assign) and len(node.targets) == 1
        and getattr(node.targets[0], "id", None) == _LABELS_LIST):
      found = tuple(ast.literal_eval(node.value))
      if len(found) != NUM_CLASSES:
        raise ValueError(f"{path}: {_LABELS_LIST} has {len(found)} labels, not {NUM_CLASSES}")
      return found
  raise ValueError(f"{path} has no {_LABELS_LIST}")


def class_names() -> list[str]:
  """Short names, one per class: each label's first synonym ("tench"), or the whole
  label where two classes share it (ImageNet's two "maillot" classes)."""
  first = [label.split(",")[0].strip() for label in labels()]
  counts = collections.Counter(first)
  return [name if counts[name] == 1 else label for name, label in zip(first, labels())]
