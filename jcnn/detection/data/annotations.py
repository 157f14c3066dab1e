"""Detection annotations into one record format: PASCAL VOC XML, YOLO txt, CSV, COCO JSON
and TFDS.

A record is a dict:
  "image_path":  str, the image file (TFDS records hold the decoded "image" instead);
  "width", "height": ints, the image size in pixels;
  "boxes":       float32 [N, 4] xyxy, absolute pixel coordinates as the source gives them
                 (VOC XML and CSV keep their 1-based pixel numbers; YOLO's normalised
                 centers become x1 = (cx - w / 2) * width, ...; COCO's [x, y, w, h]
                 becomes [x, y, x + w, y + h]);
  "labels":      int32 [N], indices into "class_names";
  "difficult":   bool [N], VOC's "difficult" flags (False where the source has none);
  "class_names": tuple of str, shared by the records of a dataset;
  "iscrowd":     bool [N], COCO JSON records only: crowd regions (also flagged difficult);
  "annotation_path": str, the file the boxes come from (not for TFDS), for error messages.

A file that does not parse, or lacks a field, raises a one-line ValueError naming it.
"""
import csv
import json
import os
import pathlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from PIL import Image

from jcnn.data.images import UNREADABLE

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
               "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
               "pottedplant", "sheep", "sofa", "train", "tvmonitor")
# The 80 COCO categories in their id order, which YOLO's class indices 0..79 follow.
COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
# Bounds checked before reading: a YOLO label line is ~40 bytes and a CSV row ~60, so these
# leave room for 400,000 boxes an image and any real row, and a 2 GB file is refused unread.
MAX_LABEL_BYTES = 1 << 24
MAX_CSV_LINE = 1 << 16


def _record(image_path, width, height, boxes, labels, difficult, class_names,
            annotation_path=None):
  record = {"image_path": str(image_path), "width": int(width), "height": int(height),
            "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
            "labels": np.asarray(labels, np.int32).reshape(-1),
            "difficult": np.asarray(difficult, bool).reshape(-1),
            "class_names": tuple(class_names)}
  if annotation_path is not None:
    record["annotation_path"] = str(annotation_path)
  return record


def _label(name, class_names, source):
  if name not in class_names:
    raise ValueError(f"{source}: class {name!r} is not in class_names {class_names}")
  return class_names.index(name)


def read_voc_xml(xml_path: str | pathlib.Path, class_names: Sequence[str],
                 images_dir: str | pathlib.Path | None = None) -> dict:
  """One PASCAL VOC annotation file as a record.

  Args:
    xml_path: the .xml file.
    class_names: the dataset's classes; an object of another class is an error.
    images_dir: where the images are; default: the XML's folder's sibling "JPEGImages"
      if it exists (the VOC layout), else "images" (e.g. the raccoon set).

  Returns:
    A record (see the module docstring).
  """
  xml_path = pathlib.Path(xml_path)
  root = _parse_xml(xml_path)
  if images_dir is None:
    images_dir = xml_path.parent.parent / "JPEGImages"
    if not images_dir.is_dir():
      images_dir = xml_path.parent.parent / "images"
  boxes, labels, difficult = [], [], []
  for obj in root.iter("object"):
    box = _field(obj, "bndbox", xml_path)
    boxes.append([_number(box, k, xml_path) for k in ("xmin", "ymin", "xmax", "ymax")])
    labels.append(_label(_text(obj, "name", xml_path), tuple(class_names), xml_path))
    flag = obj.find("difficult")
    difficult.append(flag is not None and (flag.text or "").strip() == "1")
  size = _field(root, "size", xml_path)
  return _record(pathlib.Path(images_dir) / _text(root, "filename", xml_path),
                 _number(size, "width", xml_path), _number(size, "height", xml_path),
                 boxes, labels, difficult, class_names, xml_path)


def _parse_xml(xml_path: pathlib.Path) -> ET.Element:
  try:
    return ET.parse(xml_path).getroot()
  except ET.ParseError as error:
    raise ValueError(f"{xml_path}: not a parsable XML annotation ({error})") from None


def _field(element: ET.Element, name: str, source) -> ET.Element:
  found = element.find(name)
  if found is None:
    raise ValueError(f"{source}: <{element.tag}> has no <{name}>")
  return found


def _text(element: ET.Element, name: str, source) -> str:
  text = (_field(element, name, source).text or "").strip()
  if not text:
    raise ValueError(f"{source}: <{element.tag}><{name}> is empty")
  return text


def _number(element: ET.Element, name: str, source) -> float:
  text = _text(element, name, source)
  try:
    return float(text)
  except ValueError:
    raise ValueError(f"{source}: <{element.tag}><{name}> is {text!r}, not a number") from None


def load_voc_dir(annotations_dir: str | pathlib.Path,
                 class_names: Sequence[str] | None = None,
                 images_dir: str | pathlib.Path | None = None) -> list[dict]:
  """Every .xml file of a folder, in natural order (raccoon-2 before raccoon-10).

  Args:
    annotations_dir: the folder of VOC XML files.
    class_names: the classes; default: the sorted names found in the files.
    images_dir: as `read_voc_xml`.

  Returns:
    A list of records.
  """
  paths = sorted(pathlib.Path(annotations_dir).glob("*.xml"), key=_natural_key)
  if not paths:
    raise FileNotFoundError(f"no .xml annotations in {annotations_dir}")
  if class_names is None:
    class_names = sorted({_text(obj, "name", p) for p in paths
                          for obj in _parse_xml(p).iter("object")})
  return [read_voc_xml(p, class_names, images_dir) for p in paths]


def read_yolo_txt(label_path: str | pathlib.Path | None, image_path: str | pathlib.Path,
                  class_names: Sequence[str]) -> dict:
  """One YOLO label file ("class cx cy w h" per line, normalised) as a record.

  Args:
    label_path: the .txt file; None (or a missing file) for an image without objects.
    image_path: the image, opened only to read its size.
    class_names: the classes, indexed by YOLO's class numbers.

  Returns:
    A record (see the module docstring).
  """
  try:
    with Image.open(image_path) as image:
      width, height = image.size
  except UNREADABLE as e:
    raise ValueError(f"cannot decode image {image_path}: {e}") from None
  rows = np.zeros((0, 5))
  # lexists: a dangling link or a symlink loop is an error when read, not "no objects".
  if label_path is not None and os.path.lexists(label_path):
    text = _read_label_file(label_path).split()
    if len(text) % 5:
      raise ValueError(f"{label_path}: expected lines of 5 numbers, got {len(text)} numbers")
    try:
      rows = np.asarray(text, np.float64).reshape(-1, 5)
    except ValueError:
      raise ValueError(f"{label_path}: expected lines of 5 numbers, got "
                       f"{' '.join(text)[:80]!r}") from None
  labels = rows[:, 0].astype(np.int32)
  if np.any((labels < 0) | (labels >= len(class_names))) or np.any(rows[:, 0] != labels):
    raise ValueError(f"{label_path}: class ids must be integers in [0, {len(class_names)}), "
                     f"got {sorted(set(rows[:, 0].tolist()))}")
  cx, cy = rows[:, 1] * width, rows[:, 2] * height
  w, h = rows[:, 3] * width, rows[:, 4] * height
  boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
  return _record(image_path, width, height, boxes, labels, np.zeros(len(labels), bool),
                 class_names, label_path)


def _read_label_file(path) -> str:
  """The text of a YOLO label file, refused unread above `MAX_LABEL_BYTES`."""
  too_big = ValueError(f"{path}: over {MAX_LABEL_BYTES} bytes, too big for a YOLO label file")
  with open(path, "rb") as f:
    if os.fstat(f.fileno()).st_size > MAX_LABEL_BYTES:
      raise too_big
    data = f.read(MAX_LABEL_BYTES + 1)  # bounded too where the size says nothing (a pipe)
  if len(data) > MAX_LABEL_BYTES:
    raise too_big
  try:
    return data.decode()
  except UnicodeDecodeError as e:
    raise ValueError(f"{path}: not UTF-8 text ({e})") from None


def load_yolo_dir(images_dir: str | pathlib.Path, labels_dir: str | pathlib.Path,
                  class_names: Sequence[str]) -> list[dict]:
  """Every image of a folder with its YOLO labels (same stem, .txt); none: no objects.

  Args:
    images_dir: the images.
    labels_dir: the label files.
    class_names: the classes, indexed by YOLO's class numbers.

  Returns:
    A list of records, in file-name order.
  """
  images = sorted(p for p in pathlib.Path(images_dir).iterdir()
                  if p.suffix.lower() in _IMAGE_SUFFIXES)
  if not images:
    raise FileNotFoundError(f"no images in {images_dir}")
  return [read_yolo_txt(pathlib.Path(labels_dir) / f"{p.stem}.txt", p, class_names)
          for p in images]


def load_csv(csv_path: str | pathlib.Path, images_dir: str | pathlib.Path,
             class_names: Sequence[str] | None = None) -> list[dict]:
  """A box-per-row CSV (filename,width,height,class,xmin,ymin,xmax,ymax) as records.

  This is the layout of TensorFlow Object Detection API tutorials (e.g. raccoon's
  `xml_to_csv.py`); rows of one file are grouped into one record, in natural order.
  A line longer than `MAX_CSV_LINE` characters is refused before it is read whole.
  """
  try:
    with open(csv_path, newline="") as f:
      rows = [_csv_row(row, number, csv_path) for number, row
              in enumerate(csv.DictReader(_bounded_lines(f, csv_path)), 1)]
  except (csv.Error, UnicodeDecodeError) as e:
    raise ValueError(f"{csv_path}: not a readable CSV ({e})") from None
  if class_names is None:
    class_names = sorted({r.name for r in rows})
  by_file = {}
  for row in rows:
    by_file.setdefault(row.filename, []).append(row)
  records = []
  for filename in sorted(by_file, key=_natural_key):
    group = by_file[filename]
    labels = [_label(r.name, tuple(class_names), csv_path) for r in group]
    records.append(_record(pathlib.Path(images_dir) / filename, group[0].width,
                           group[0].height, [r.box for r in group], labels,
                           np.zeros(len(group), bool), class_names, csv_path))
  return records


def _bounded_lines(f, path):
  """The lines of `f`, each read at most `MAX_CSV_LINE` + 1 characters at a time."""
  while line := f.readline(MAX_CSV_LINE + 1):
    if len(line) > MAX_CSV_LINE:
      raise ValueError(f"{path}: a line longer than {MAX_CSV_LINE} characters; not a "
                       "box-per-row CSV")
    yield line


class _CsvRow(NamedTuple):
  filename: str
  width: int
  height: int
  name: str
  box: list[float]  # xmin, ymin, xmax, ymax


def _csv_row(row: dict, number: int, source) -> _CsvRow:
  """Data row `number` of a CSV, its numbers parsed."""
  try:
    return _CsvRow(row["filename"], int(row["width"]), int(row["height"]), row["class"],
                   [float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax")])
  except (KeyError, TypeError, ValueError) as e:
    raise ValueError(f"{source}: row {number} is not filename,width,height,class,xmin,ymin,"
                     f"xmax,ymax ({type(e).__name__}: {e})") from None


def load_coco_json(json_path: str | pathlib.Path, images_dir: str | pathlib.Path | None = None,
                   class_names: Sequence[str] | None = None) -> list[dict]:
  """A COCO instances JSON (e.g. instances_val2017.json) as records, in its image order.

  Labels index the categories sorted by id, so COCO's 80 give `COCO_CLASSES`' order;
  crowd annotations are kept, flagged "iscrowd" and "difficult" (no AP penalty).

  Args:
    json_path: the instances file.
    images_dir: where the images are; default: the first of the JSON's folder, its
      "images" subfolder, and COCO's layout ../<split> (instances_val2017.json ->
      ../val2017) that holds the first image.
    class_names: the classes; default: the JSON's category names by id. A category
      name not among them is an error.

  Returns:
    A list of records.
  """
  json_path = pathlib.Path(json_path)
  # json raises RecursionError, not ValueError, for a file nested deeper than the stack.
  try:
    data = json.loads(json_path.read_text())
    images, categories = data["images"], sorted(data["categories"], key=lambda c: c["id"])
    names = {c["id"]: c["name"] for c in categories}
    annotations = data.get("annotations", [])
  except (ValueError, KeyError, TypeError, RecursionError) as error:
    raise ValueError(f"{json_path}: not a COCO instances JSON ({type(error).__name__}: "
                     f"{error})") from None
  class_names = tuple(names.values()) if class_names is None else tuple(class_names)
  label_of = {i: _label(n, class_names, json_path) for i, n in names.items()}
  if images_dir is None:
    images_dir = _coco_images_dir(json_path, images[0]["file_name"] if images else "")
  by_image = {image["id"]: [] for image in images}
  for a in annotations:
    if a.get("image_id") not in by_image or a.get("category_id") not in label_of:
      raise ValueError(f"{json_path}: annotation {a.get('id')} names image "
                       f"{a.get('image_id')} / category {a.get('category_id')}, which the "
                       "file does not list")
    by_image[a["image_id"]].append(a)
  records = []
  for image in images:
    group = by_image[image["id"]]
    try:
      xywh = np.asarray([a["bbox"] for a in group], np.float32).reshape(-1, 4)
    except (KeyError, ValueError):
      raise ValueError(f"{json_path}: image {image['id']} has an annotation without a "
                       "bbox of 4 numbers") from None
    crowd = np.asarray([bool(a.get("iscrowd", 0)) for a in group], bool)
    record = _record(pathlib.Path(images_dir) / image["file_name"], image["width"],
                     image["height"], np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]],
                                                     axis=1),
                     [label_of[a["category_id"]] for a in group], crowd, class_names,
                     json_path)
    record["iscrowd"] = crowd
    records.append(record)
  return records


def _coco_images_dir(json_path: pathlib.Path, first_image: str) -> pathlib.Path:
  split = json_path.stem.split("_", 1)[-1]  # instances_val2017 -> val2017
  candidates = [json_path.parent, json_path.parent / "images", json_path.parent.parent / split,
                json_path.parent.parent / "images" / split, json_path.parent / split]
  for folder in candidates:
    if (folder / first_image).is_file():
      return folder
  raise FileNotFoundError(f"{json_path}: image {first_image!r} is in none of "
                          f"{[str(c) for c in candidates]}; pass images_dir")


def load_raccoon(data_dir: str | pathlib.Path) -> list[dict]:
  """The raccoon set (Dat Tran, 2017) from its VOC XML: 200 images, 217 boxes, 1 class.

  Args:
    data_dir: the folder holding `raccoon/` (e.g. ../shared/data).
  """
  root = pathlib.Path(data_dir) / "raccoon"
  return load_voc_dir(root / "annotations", ("raccoon",), root / "images")


def load_coco128(data_dir: str | pathlib.Path) -> list[dict]:
  """coco128 (the first 128 COCO train2017 images, YOLO labels): 929 boxes, 80 classes.

  Args:
    data_dir: the folder holding `coco128/` (e.g. ../shared/data).
  """
  root = pathlib.Path(data_dir) / "coco128"
  return load_yolo_dir(root / "images" / "train2017", root / "labels" / "train2017",
                       COCO_CLASSES)


def load_tfds(name: str, split: str, data_dir: str | pathlib.Path | None = None,
              download: bool = False):
  """Records from TFDS's "voc/2007", "voc/2012" or "coco/2017" (images decoded).

  These datasets download tens of gigabytes from their original hosts, so they need the
  internet once; a prepared copy in `data_dir` is then read offline.

  Args:
    name: "voc/2007", "voc/2012", "coco/2017" or another TFDS config of them.
    split: a TFDS split, e.g. "validation", "test[:100]".
    data_dir: the TFDS data folder (TFDS's default when None).
    download: download and prepare the dataset when it is not prepared yet.

  Yields:
    Records with the decoded "image" [height, width, 3] uint8, "image_path" (the TFDS
    file name) and boxes in absolute pixels.
  """
  if not name.startswith(("voc", "coco")):
    raise ValueError(f"load_tfds reads the voc and coco TFDS datasets, got {name!r}")
  message = (f"TFDS dataset {name!r} is not prepared in {{}}; preparing it downloads it "
             "from the internet: call load_tfds(..., download=True) on a machine with "
             "internet access (or copy a prepared data_dir here). Offline, read "
             "annotations with load_voc_dir / load_yolo_dir instead.")
  # A prepared dataset has a dataset_info.json; without one, fail before importing TF.
  if (data_dir is not None and not download
      and not any((pathlib.Path(data_dir) / name).glob("**/dataset_info.json"))):
    raise FileNotFoundError(message.format(data_dir))
  # Imported here: jcnn.data takes seconds to import, and only this reader needs it.
  from jcnn.data.tfds_source import import_tfds  # pylint: disable=g-import-not-at-top
  tfds = import_tfds()
  builder = tfds.builder(name, data_dir=None if data_dir is None else str(data_dir))
  if not builder.is_prepared():
    if not download:
      raise FileNotFoundError(message.format(builder.data_dir))
    try:
      builder.download_and_prepare()
    except Exception as error:  # TFDS raises many kinds of network errors.
      raise ConnectionError(f"downloading TFDS dataset {name!r} failed (it needs the "
                            f"internet): {error}") from error
  objects = builder.info.features["objects"]
  class_names = tuple(objects["label"].names)
  for example in tfds.as_numpy(builder.as_dataset(split=split)):
    image = example["image"]
    height, width = image.shape[:2]
    bbox = np.asarray(example["objects"]["bbox"], np.float32).reshape(-1, 4)
    ymin, xmin, ymax, xmax = bbox.T  # TFDS boxes: normalised (ymin, xmin, ymax, xmax)
    boxes = np.stack([xmin * width, ymin * height, xmax * width, ymax * height], axis=1)
    difficult = example["objects"].get("is_difficult", np.zeros(len(boxes), bool))
    record = _record(example["image/filename"].decode(), width, height, boxes,
                     example["objects"]["label"], difficult, class_names)
    record["image"] = image
    yield record


def _natural_key(value) -> list:
  """Sorts "a-2" before "a-10"."""
  return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(value))]
