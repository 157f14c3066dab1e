"""Hostile inputs (issue 37): every file reader of jcnn, fed a malformed file and a hostile
one, stops with one error line naming the file, within a time and memory bound, having
written nothing (the data folder and the cache are listed before and after).

The readers: image folders (plain, zipped, their .npz cache), the VOC, COCO and YOLO
folders, box CSVs, MNIST's idx files and the canvas cache (mnist_detection), proposal
caches, R-CNN detectors, study plans and a run's JSON files.
"""
import contextlib
import gzip
import os
import pathlib
import resource
import signal
import struct
import zipfile

import numpy as np
import pytest
from PIL import Image

from jcnn import data, detection, runs, studies
from jcnn.detection import data as det_data
from jcnn.detection import proposal_cache, rcnn_detector
from jcnn.detection.data import canvases
from tests.helpers import write_png_bomb

DEEP_JSON = "[" * 10**6 + "]" * 10**6
TWO_GB = 2 << 30
SECONDS = 10             # per case: a reader that loops on its input fails, not hangs
HEADROOM = 512 << 20     # per case: more address space than this is a memory blow-up
CASES = {}


def case(expected, *marks):
  """Registers a builder `f(tmp_path) -> (read, path)`: `read()` must raise `expected`
  naming `path`."""
  def register(build):
    CASES[build.__name__.replace("_", "-")] = (build, expected, marks)
    return build
  return register


class _Overran(BaseException):
  """Not an Exception: no reader's `except` may swallow it."""


@contextlib.contextmanager
def _bounded():
  """Fails a case that runs past SECONDS; makes an allocation beyond HEADROOM a
  MemoryError instead of a machine out of memory."""
  status = pathlib.Path("/proc/self/status").read_text()
  used = int(status.split("VmSize:")[1].split()[0]) << 10  # kB
  soft, hard = resource.getrlimit(resource.RLIMIT_AS)
  limit = used + HEADROOM if hard == resource.RLIM_INFINITY else min(used + HEADROOM, hard)

  def overran(*_):
    raise _Overran(f"still reading after {SECONDS} s")

  previous = signal.signal(signal.SIGALRM, overran)
  resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
  signal.setitimer(signal.ITIMER_REAL, SECONDS)
  try:
    yield
  finally:
    signal.setitimer(signal.ITIMER_REAL, 0)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    signal.signal(signal.SIGALRM, previous)


def _listing(root) -> list:
  """Every folder and file under `root` (links not followed), files with size and time."""
  found = []
  for folder, dirs, files in os.walk(root):
    found += [(os.path.join(folder, d), 0, 0) for d in dirs]
    for name in files:
      stat = os.lstat(os.path.join(folder, name))
      found.append((os.path.join(folder, name), stat.st_size, stat.st_mtime_ns))
  return sorted(found)


def _png(path, color=0):
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.new("RGB", (4, 4), (color, 0, 0)).save(path)
  return path


def _loop(path):
  """A symlink to itself: following it fails with ELOOP."""
  path.parent.mkdir(parents=True, exist_ok=True)
  os.symlink(path, path)
  return path


def _sparse(path, size=TWO_GB, head=b""):
  """`head`, then zeros up to `size` bytes that take no disk (and no newline)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  with open(path, "wb") as f:
    f.write(head)
    f.truncate(size)
  return path


def _npz(path, **arrays):
  path.parent.mkdir(parents=True, exist_ok=True)
  np.savez(path, **arrays)
  return path


def _pickled_npz(path, **arrays):
  """An .npz whose "images" is an object array: loading it would unpickle."""
  return _npz(path, images=np.array([{"evil": 1}], dtype=object), **arrays)


def _truncate(path):
  """Cuts an .npz in half: its zip directory is gone."""
  path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
  return path


# Image folders: `data.load("image_folder", ...)`, cache in $JCNN_CACHE_DIR.
def _image_folder(tmp_path):
  root = tmp_path / "folder"
  _png(root / "train" / "a" / "0.png")
  _png(root / "train" / "b" / "0.png", 255)
  return root


def _load_folder(path):
  return lambda: data.load("image_folder", "train", data_dir=path)


def _loaded_once(tmp_path):
  """An image folder loaded once, so its decoded split is cached; that cache file."""
  root = _image_folder(tmp_path)
  data.load("image_folder", "train", data_dir=root)
  cached, = (tmp_path / "cache").glob("*/train-*.npz")
  return root, cached


@case(ValueError)
def image_folder_not_an_image(tmp_path):
  root = _image_folder(tmp_path)
  (root / "train" / "a" / "1.png").write_bytes(b"not a png")
  return _load_folder(root), root / "train" / "a" / "1.png"


@case(ValueError)
def image_folder_decompression_bomb(tmp_path):
  root = _image_folder(tmp_path)
  return _load_folder(root), write_png_bomb(root / "train" / "a" / "1.png")


@case(OSError)
def image_folder_class_folder_symlink_loop(tmp_path):
  root = _image_folder(tmp_path)
  return _load_folder(root), _loop(root / "train" / "c")


@case(ValueError)
def image_folder_symlink_loop_as_folder(tmp_path):
  loop = _loop(tmp_path / "folder")
  return _load_folder(loop), loop


def _zip(path, members: dict):
  with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
    for name, content in members.items():
      archive.writestr(name, content)
  return path


def _png_bytes(tmp_path):
  return _png(tmp_path / "png" / "0.png").read_bytes()


@case(ValueError)
def image_folder_zip_with_a_damaged_member(tmp_path):
  png = _png_bytes(tmp_path)
  path = _zip(tmp_path / "folder.zip", {"train/a/0.png": png})
  raw = bytearray(path.read_bytes())
  at = raw.index(png) + len(png) // 2
  raw[at] ^= 0xFF  # the stored bytes no longer match their CRC-32
  path.write_bytes(bytes(raw))
  return _load_folder(path), path


@case(ValueError)
def image_folder_zip_member_escaping_upwards(tmp_path):
  png = _png_bytes(tmp_path)
  path = _zip(tmp_path / "folder.zip", {"train/a/0.png": png, "../../escaped.png": png})
  return _load_folder(path), path


@case(ValueError)
def image_folder_zip_member_with_an_absolute_path(tmp_path):
  png = _png_bytes(tmp_path)
  path = _zip(tmp_path / "folder.zip", {"train/a/0.png": png,
                                        str(tmp_path / "escaped.png"): png})
  return _load_folder(path), path


@case(ValueError)
def image_folder_truncated_cache(tmp_path):
  root, cached = _loaded_once(tmp_path)
  return _load_folder(root), _truncate(cached)


@case(ValueError)
def image_folder_cache_holding_a_pickle(tmp_path):
  root, cached = _loaded_once(tmp_path)
  return _load_folder(root), _pickled_npz(cached, labels=np.zeros(1, np.int32))


# Detection folders: `det_data.load(name, "all", data_dir=...)`.
def _load(name, path, split="all"):
  return lambda: det_data.load(name, split, data_dir=path)


def _voc(tmp_path, xml: str):
  root = tmp_path / "voc"
  _png(root / "JPEGImages" / "0.png")
  (root / "Annotations").mkdir()
  (root / "Annotations" / "0.xml").write_text(xml)
  return root, root / "Annotations" / "0.xml"


@case(ValueError)
def voc_dir_unclosed_xml(tmp_path):
  root, xml = _voc(tmp_path, "<annotation><filename>0.png</filename>")
  return _load("voc_dir", root), xml


@case(ValueError)
def voc_dir_entity_bomb(tmp_path):
  # "Billion laughs": 10**9 "lol"s from a 1 kB file; expat refuses the amplification.
  entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
  root, xml = _voc(tmp_path, f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY l0 "lol">'
                             f'{entities}]><annotation><filename>&l9;</filename></annotation>')
  return _load("voc_dir", root), xml


@case(ValueError)
def voc_dir_external_entity(tmp_path):
  root, xml = _voc(tmp_path, '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM '
                             '"file:///etc/passwd">]><annotation><filename>&x;</filename>'
                             '</annotation>')
  return _load("voc_dir", root), xml


@case(OSError)
def voc_dir_symlink_loop(tmp_path):
  root, _ = _voc(tmp_path, "<annotation/>")
  return _load("voc_dir", root), _loop(root / "Annotations" / "1.xml")


@case(ValueError)
def coco_json_not_json(tmp_path):
  path = tmp_path / "coco" / "instances_val.json"
  path.parent.mkdir()
  path.write_text('{"images": [')
  return _load("coco_json", path.parent), path


@case(ValueError)
def coco_json_nested_a_million_deep(tmp_path):
  path = tmp_path / "coco" / "instances_val.json"
  path.parent.mkdir()
  path.write_text(DEEP_JSON)
  return _load("coco_json", path.parent), path


@case(OSError)
def coco_json_symlink_loop(tmp_path):
  path = _loop(tmp_path / "coco" / "instances_val.json")
  return _load("coco_json", path.parent), path


def _yolo(tmp_path):
  root = tmp_path / "yolo"
  _png(root / "images" / "0.png")
  (root / "labels").mkdir()
  return root


@case(ValueError)
def yolo_dir_label_not_utf8(tmp_path):
  root = _yolo(tmp_path)
  (root / "labels" / "0.txt").write_bytes(b"0 0.5 0.5 \xff\xfe 0.1\n")
  return _load("yolo_dir", root), root / "labels" / "0.txt"


@case(ValueError)
def yolo_dir_two_gigabyte_label_line(tmp_path):
  root = _yolo(tmp_path)
  return _load("yolo_dir", root), _sparse(root / "labels" / "0.txt", head=b"0 0.5 0.5 0.1 0.1")


@case(OSError)
def yolo_dir_label_symlink_loop(tmp_path):
  root = _yolo(tmp_path)
  return _load("yolo_dir", root), _loop(root / "labels" / "0.txt")


@case(ValueError)
def yolo_dir_decompression_bomb(tmp_path):
  root = _yolo(tmp_path)
  return _load("yolo_dir", root), write_png_bomb(root / "images" / "0.png")


# Box CSVs: `detection.load_csv`.
_CSV_HEADER = "filename,width,height,class,xmin,ymin,xmax,ymax\n"


@case(ValueError)
def csv_row_with_a_word_for_a_number(tmp_path):
  path = tmp_path / "boxes.csv"
  path.write_text(_CSV_HEADER + "0.png,4,4,a,0,0,three,3\n")
  return lambda: detection.load_csv(path, tmp_path), path


@case(ValueError)
def csv_two_gigabyte_line(tmp_path):
  path = _sparse(tmp_path / "boxes.csv", head=_CSV_HEADER.encode() + b"0.png,")
  return lambda: detection.load_csv(path, tmp_path), path


# MNIST's idx files (mnist_detection) and the canvas cache.
def _idx(tmp_path, images: bytes):
  root = tmp_path / "mnist"
  root.mkdir()
  (root / "t10k-images-idx3-ubyte.gz").write_bytes(images)
  (root / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(
      struct.pack(">II", 0x801, 10) + bytes(10)))
  return _load("mnist_detection", root, "test"), root / "t10k-images-idx3-ubyte.gz"


@case(ValueError)
def mnist_idx_not_gzip(tmp_path):
  return _idx(tmp_path, b"not gzip")


@case(ValueError)
def mnist_idx_gzip_bomb(tmp_path):
  # A header for 10 digits, then 1 GiB of zeros in 64 gzip members (16 kB each).
  zeros = gzip.compress(bytes(16 << 20), compresslevel=1)
  return _idx(tmp_path, gzip.compress(struct.pack(">IIII", 0x803, 10, 28, 28)) + zeros * 64)


@case(ValueError)
def mnist_idx_header_declaring_a_huge_shape(tmp_path):
  return _idx(tmp_path, gzip.compress(struct.pack(">IIII", 0x803, 2**32 - 1, 2**16, 2**16)))


def _canvas_cache(tmp_path):
  """Where digits_detection's test canvases are cached, and reading them."""
  path = canvases.cache_path("digits_detection", "test", canvases.CanvasConfig(),
                             tmp_path / "cache")
  return (lambda: det_data.load("digits_detection", "test")), path


@case(ValueError)
def canvas_cache_truncated(tmp_path):
  read, path = _canvas_cache(tmp_path)
  return read, _truncate(_npz(path, images=np.zeros((1, 8, 8), np.uint8)))


@case(ValueError)
def canvas_cache_holding_a_pickle(tmp_path):
  read, path = _canvas_cache(tmp_path)
  return read, _pickled_npz(path)


# R-CNN's files in a run: proposal caches and detectors.
def _proposals(tmp_path, write):
  """A one-image split whose proposals cache `write(path)` made, and computing it."""
  record = {"image_path": "0", "image": np.zeros((8, 8, 3), np.uint8), "width": 8,
            "height": 8, "boxes": np.zeros((0, 4), np.float32),
            "labels": np.zeros(0, np.int32), "difficult": np.zeros(0, bool)}
  split = det_data.DetectionSplit(("a",), [record], channels=3, name="t", split="all")
  path = tmp_path / "run" / "proposals.npz"
  write(path)
  return (lambda: proposal_cache.compute(split, path)), path


@case(ValueError)
def proposal_cache_truncated(tmp_path):
  return _proposals(tmp_path, lambda p: _truncate(_npz(p, boxes=np.zeros((0, 4)))))


@case(ValueError)
def proposal_cache_holding_a_pickle(tmp_path):
  return _proposals(tmp_path, lambda p: _npz(
      p, fingerprint=np.array([{"evil": 1}], dtype=object), boxes=np.zeros((0, 4)),
      offsets=np.zeros(2, np.int64), complete=np.array(True)))


def _detector(tmp_path, meta):
  path = _npz(tmp_path / "run" / "detector.npz", meta=meta, svm_weights=np.zeros((1, 1)))
  return (lambda: rcnn_detector.load(path)), path


@case(ValueError)
def rcnn_detector_truncated(tmp_path):
  read, path = _detector(tmp_path, np.array("{}"))
  return read, _truncate(path)


@case(ValueError)
def rcnn_detector_holding_a_pickle(tmp_path):
  return _detector(tmp_path, np.array([{"evil": 1}], dtype=object))


@case(ValueError)
def rcnn_detector_meta_nested_a_million_deep(tmp_path):
  return _detector(tmp_path, np.array(DEEP_JSON))


# Study plans and runs: the JSON files eval reads.
def _study(tmp_path, text):
  (tmp_path / "study").mkdir()
  (tmp_path / "study" / runs.STUDY_FILE).write_text(text)
  return (lambda: studies.read_plan(tmp_path / "study")), tmp_path / "study" / runs.STUDY_FILE


@case(ValueError)
def study_plan_not_json(tmp_path):
  return _study(tmp_path, '{"name": ')


@case(ValueError)
def study_plan_nested_a_million_deep(tmp_path):
  return _study(tmp_path, DEEP_JSON)


def _run(tmp_path, file, text, read):
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / runs.CONFIG_FILE).write_text("{}")
  (workdir / file).write_text(text)
  return (lambda: read(runs.Run.open(workdir))), workdir / file


@case(ValueError)
def run_config_not_json(tmp_path):
  return _run(tmp_path, runs.CONFIG_FILE, '{"model": ', lambda run: run.config)


@case(ValueError)
def run_config_nested_a_million_deep(tmp_path):
  return _run(tmp_path, runs.CONFIG_FILE, DEEP_JSON, lambda run: run.config)


@case(ValueError)
def run_dataset_info_nested_a_million_deep(tmp_path):
  return _run(tmp_path, runs.DATASET_FILE, DEEP_JSON, lambda run: run.dataset_info)


@case(ValueError)
def run_metrics_line_nested_a_million_deep(tmp_path):
  return _run(tmp_path, runs.METRICS_FILE, DEEP_JSON + "\n", lambda run: run.records())


@pytest.mark.parametrize("name", [pytest.param(name, marks=marks, id=name)
                                  for name, (_, _, marks) in CASES.items()])
def test_a_malformed_or_hostile_file_is_refused_in_one_line_that_names_it(
    name, tmp_path, monkeypatch):
  build, expected, _ = CASES[name]
  monkeypatch.setenv("JCNN_CACHE_DIR", str(tmp_path / "cache"))
  (tmp_path / "cache").mkdir()
  read, path = build(tmp_path)
  before = _listing(tmp_path)
  with _bounded(), pytest.raises(expected) as raised:
    read()
  message = str(raised.value)
  assert str(path) in message and "\n" not in message, message
  assert _listing(tmp_path) == before
