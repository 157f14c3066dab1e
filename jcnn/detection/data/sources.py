"""`load`: one way to ask for a detection split, whatever the dataset's source.

Boxes come out in continuous pixel coordinates of the original image (an image of width
W spans x in [0, W]). VOC XML's 1-based inclusive pixel numbers are converted as
Detectron2 does: xmin - 1, ymin - 1, xmax, ymax.
"""
import os
import pathlib

import numpy as np

from jcnn import paths
from jcnn.detection.data import annotations
from jcnn.detection.data import canvases
from jcnn.detection.data.canvases import CanvasConfig
from jcnn.detection.data.split import DetectionSplit
from jcnn.detection.data.split import checked

DATASETS = ("mnist_detection", "digits_detection", "voc_dir", "coco_json", "yolo_dir",
            "raccoon", "coco128", "voc", "coco")
# The fixed held-out images of the small real sets: the last of their natural file order.
HELD_OUT = {"raccoon": 40, "coco128": 28}
TFDS_NAMES = {"voc": "voc/2007", "coco": "coco/2017"}
_CLASS_FILES = ("classes.txt", "obj.names")


def load(name: str, split: str, *, data_dir: str | os.PathLike | None = None,
         cache_dir: str | os.PathLike | None = None,
         canvas: CanvasConfig | None = None) -> DetectionSplit:
  """Loads the records of a split (images are decoded on demand by `split.image(i)`).

  Args:
    name: one of `DATASETS`:
      "mnist_detection", "digits_detection": synthetic canvases of MNIST's (read from its
        idx files in data_dir, default $JCNN_DATA_DIR/mnist) or scikit-learn's digits;
        splits "train", "test".
      "raccoon", "coco128": the folder data_dir (default $JCNN_DATA_DIR/<name>); splits
        "train", "test" (the last 40 / 28 images in natural file order), "all".
      "voc_dir": data_dir a VOC root (Annotations/, JPEGImages/, ImageSets/Main/<split>.txt:
        splits "train", "val", "trainval", "test", "all") or a folder holding the XML files
        or annotations/ (split "all"). Classes: VOC's 20 when every name found is one of
        them, else the sorted names found.
      "coco_json": data_dir an instances JSON (or a folder holding one), images beside it
        or in COCO's layout; split "all".
      "yolo_dir": data_dir holding images/ and labels/ (or images/<split>/ and
        labels/<split>/: split <split>; "all" reads every image); classes from
        classes.txt or obj.names in data_dir, else COCO's 80.
      "voc", "coco": TFDS's voc/2007 and coco/2017 prepared in data_dir (default
        $JCNN_DATA_DIR/<name>); TFDS split strings. They need the internet once.
    split: as above.
    data_dir: the source's folder or file.
    cache_dir: where canvases are cached (default `jcnn.paths.cache_dir()`), under
      "detection/".
    canvas: how canvases are drawn (default `CanvasConfig()`); ignored by other sources.

  Returns:
    The split.
  """
  if name not in DATASETS:
    raise ValueError(f"unknown detection dataset {name!r}; choose from {DATASETS}")
  if name in canvases.SOURCES:
    return _load_canvases(name, split, data_dir, cache_dir, canvas or CanvasConfig())
  if name in TFDS_NAMES:
    folder = _data_dir(name, data_dir, required=False)
    records = list(annotations.load_tfds(TFDS_NAMES[name], split, data_dir=folder))
    class_names = records[0]["class_names"] if records else ()
    return _split(name, split, records, class_names)
  if name == "coco_json":
    return _load_coco_json(_data_dir(name, data_dir), split)
  folder = _data_dir(name, data_dir)
  if name == "raccoon":
    records = _from_one_based(annotations.load_voc_dir(
        folder / "annotations", ("raccoon",), folder / "images"))
    return _split(name, split, _held_out(name, records, split), ("raccoon",))
  if name == "coco128":
    records = annotations.load_yolo_dir(folder / "images" / "train2017",
                                        folder / "labels" / "train2017",
                                        annotations.COCO_CLASSES)
    return _split(name, split, _held_out(name, records, split), annotations.COCO_CLASSES)
  if name == "voc_dir":
    return _load_voc_dir(folder, split)
  return _load_yolo_dir(folder, split)


def _load_canvases(name, split, data_dir, cache_dir, config) -> DetectionSplit:
  cache_dir = paths.cache_dir() if cache_dir is None else cache_dir
  arrays = canvases.load_canvases(name, split, config, data_dir, cache_dir)
  return DetectionSplit(canvases.CLASS_NAMES, canvases.records(name, split, arrays),
                        channels=1, name=name, split=split)


def _split(name, split, records, class_names) -> DetectionSplit:
  return DetectionSplit(tuple(class_names), checked(records, class_names), channels=3,
                        name=name, split=split)


def _data_dir(name, data_dir, required=True) -> pathlib.Path | None:
  """data_dir, else $JCNN_DATA_DIR/<name>; checked to exist."""
  if data_dir is None:
    if "JCNN_DATA_DIR" not in os.environ:
      if not required:
        return None
      raise FileNotFoundError(f"{name}: pass data_dir or set $JCNN_DATA_DIR to a folder "
                              f"holding {name}/")
    data_dir = pathlib.Path(os.environ["JCNN_DATA_DIR"]) / name
  path = pathlib.Path(data_dir).expanduser()
  if required and not path.exists():
    raise FileNotFoundError(f"{name}: {path} does not exist")
  return path


def _held_out(name, records, split) -> list[dict]:
  count = HELD_OUT[name]
  parts = {"train": records[:-count], "test": records[-count:], "all": records}
  if split not in parts:
    raise ValueError(f"{name} has splits {tuple(parts)}, got {split!r}")
  return parts[split]


def _from_one_based(records) -> list[dict]:
  """VOC's inclusive 1-based pixel numbers as continuous coordinates."""
  out = []
  for record in records:
    boxes = record["boxes"].copy()
    boxes[:, :2] -= 1
    out.append({**record, "boxes": boxes})
  return out


def _load_voc_dir(folder: pathlib.Path, split: str) -> DetectionSplit:
  if (folder / "Annotations").is_dir():
    xml_dir, images_dir = folder / "Annotations", folder / "JPEGImages"
  elif (folder / "annotations").is_dir():
    xml_dir, images_dir = folder / "annotations", folder / "images"
  else:
    xml_dir, images_dir = folder, None
  records = annotations.load_voc_dir(xml_dir, images_dir=images_dir)
  found = records[0]["class_names"]
  class_names = annotations.VOC_CLASSES if set(found) <= set(annotations.VOC_CLASSES) else found
  to_class = np.asarray([class_names.index(n) for n in found], np.int32)
  records = [{**r, "labels": to_class[r["labels"]], "class_names": class_names}
             for r in _from_one_based(records)]
  if split != "all":
    image_set = folder / "ImageSets" / "Main" / f"{split}.txt"
    if not image_set.is_file():
      raise ValueError(f"voc_dir {folder}: no image set {image_set} for split {split!r}; "
                       "use split 'all'")
    keep = set(image_set.read_text().split())
    records = [r for r in records if pathlib.Path(r["annotation_path"]).stem in keep]
  return _split("voc_dir", split, records, class_names)


def _load_coco_json(path: pathlib.Path, split: str) -> DetectionSplit:
  if split != "all":
    raise ValueError(f"coco_json reads one file as split 'all', got {split!r}")
  if path.is_dir():
    found = sorted(path.glob("*.json"))
    if len(found) != 1:
      raise ValueError(f"coco_json: {path} holds {len(found)} .json files; name one")
    path = found[0]
  records = annotations.load_coco_json(path)
  class_names = records[0]["class_names"] if records else ()
  return _split("coco_json", split, records, class_names)


def _load_yolo_dir(folder: pathlib.Path, split: str) -> DetectionSplit:
  class_names = annotations.COCO_CLASSES
  for file in _CLASS_FILES:
    if (folder / file).is_file():
      class_names = tuple(line.strip() for line in (folder / file).read_text().splitlines()
                          if line.strip())
      break
  images, labels = folder / "images", folder / "labels"
  if split != "all":
    if not (images / split).is_dir():
      raise ValueError(f"yolo_dir {folder}: no folder images/{split} for split {split!r}; "
                       "use split 'all'")
    parts = [split]
  elif any(p.is_file() for p in images.iterdir()):
    parts = [""]
  else:
    parts = sorted(p.name for p in images.iterdir() if p.is_dir())
  records = [r for part in parts
             for r in annotations.load_yolo_dir(images / part, labels / part, class_names)]
  return _split("yolo_dir", split, records, class_names)
