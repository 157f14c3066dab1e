"""Detection data: digit canvases, the raccoon / coco128 / folder / JSON readers, batches."""
import dataclasses
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from jcnn import detection
from jcnn.data.digits import load_digits
from jcnn.detection import data as det_data
from jcnn.detection.data import canvases

SMALL = det_data.CanvasConfig(num_train=40, num_test=30, seed=3)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
  return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def digit_splits(cache_dir):
  return {s: det_data.load("digits_detection", s, cache_dir=cache_dir, canvas=SMALL)
          for s in ("train", "test")}


def _ink_box(image: np.ndarray) -> list[int]:
  rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
  return [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]


def test_canvases_are_deterministic_and_the_second_load_reads_the_cache(
    tmp_path, monkeypatch, digit_splits):
  again = det_data.load("digits_detection", "train", cache_dir=tmp_path, canvas=SMALL)
  first = digit_splits["train"]
  assert len(again) == 40 and again.channels == 1 and again.class_names == canvases.CLASS_NAMES
  for a, b in zip(first.records, again.records):
    np.testing.assert_array_equal(a["image"], b["image"])
    np.testing.assert_array_equal(a["boxes"], b["boxes"])
    np.testing.assert_array_equal(a["labels"], b["labels"])
  assert len(list((tmp_path / "detection").glob("digits_detection-train-*.npz"))) == 1

  def fail(*args):
    raise AssertionError("the canvases were drawn again instead of read from the cache")

  monkeypatch.setattr(canvases, "generate", fail)
  cached = det_data.load("digits_detection", "train", cache_dir=tmp_path, canvas=SMALL)
  np.testing.assert_array_equal(cached.image(7), first.image(7))
  monkeypatch.undo()
  # Canvas i depends on (seed, split, i) only: fewer canvases are the first ones.
  fewer = det_data.load("digits_detection", "train", cache_dir=tmp_path,
                        canvas=dataclasses.replace(SMALL, num_train=10))
  np.testing.assert_array_equal(np.stack([fewer.image(i) for i in range(10)]),
                                np.stack([first.image(i) for i in range(10)]))
  other = det_data.load("digits_detection", "train", cache_dir=tmp_path,
                        canvas=dataclasses.replace(SMALL, seed=4))
  assert not np.array_equal(other.image(0), first.image(0))


def _check_digits_come_from(split, images, labels):
  """Every box holds source digit `source_index` drawn at `source_side` (max-composited)."""
  for i, record in enumerate(split.records):
    canvas = split.image(i)[..., 0]
    for box, label, index, side in zip(record["boxes"].astype(int), record["labels"],
                                       record["source_index"], record["source_side"]):
      patch = canvases.render_digit(images[index], side)
      x1, y1, x2, y2 = box
      assert patch.shape == (y2 - y1, x2 - x1)
      assert np.all(canvas[y1:y2, x1:x2] >= patch)
      assert label == labels[index]
    assert not set(record["clutter_index"].tolist()) & set(record["source_index"].tolist())
    assert np.all(record["clutter_index"] < len(images))


@pytest.mark.parametrize("split", ["train", "test"])
def test_digit_canvases_draw_only_their_own_split_of_sklearn_digits(digit_splits, split):
  source = load_digits(split)
  canvas_split = digit_splits[split]
  assert {r["source"] for r in canvas_split.records} == {f"digits/{split}"}
  _check_digits_come_from(canvas_split, source.images[..., 0], source.labels)
  # The check tells the halves apart: the other half's digits do not fit the canvases.
  other = load_digits("test" if split == "train" else "train")
  record = canvas_split.records[0]
  index = record["source_index"][0] % len(other)
  patch = canvases.render_digit(other.images[index, ..., 0], record["source_side"][0])
  x1, y1, x2, y2 = record["boxes"][0].astype(int)
  assert (patch.shape != (y2 - y1, x2 - x1)
          or not np.all(canvas_split.image(0)[y1:y2, x1:x2, 0] >= patch))


@pytest.mark.data
def test_mnist_canvases_draw_mnist_train_digits_for_train_and_test_digits_for_test(
    shared_data, cache_dir):
  config = det_data.CanvasConfig(num_train=20, num_test=20)
  for split, count in (("train", 60_000), ("test", 10_000)):
    loaded = det_data.load("mnist_detection", split, data_dir=shared_data / "mnist",
                           cache_dir=cache_dir, canvas=config)
    images, labels = canvases.source_digits("mnist_detection", split, shared_data / "mnist")
    assert images.shape == (count, 28, 28) and len(loaded) == 20
    assert loaded.image(0).shape == (128, 128, 1) and loaded.image(0).dtype == np.uint8
    _check_digits_come_from(loaded, images, labels)


def test_boxes_are_tight_around_the_ink_of_the_canvas(digit_splits):
  split = digit_splits["train"]
  for i, record in enumerate(split.records):
    canvas = split.image(i)[..., 0]
    assert canvas.shape == (128, 128)
    for x1, y1, x2, y2 in record["boxes"].astype(int):
      assert canvas[y1, x1:x2].any() and canvas[y2 - 1, x1:x2].any()
      assert canvas[y1:y2, x1].any() and canvas[y1:y2, x2 - 1].any()
    # No ink outside the digits' boxes but the unboxed fragments'.
    covered = np.zeros_like(canvas, bool)
    for x1, y1, x2, y2 in np.concatenate([record["boxes"], record["clutter_boxes"]]).astype(int):
      covered[y1:y2, x1:x2] = True
    assert not canvas[~covered].any()


def test_digit_counts_overlaps_and_clutter_follow_the_config(tmp_path):
  config = det_data.CanvasConfig(min_digits=2, max_digits=4, max_iou=0.05, num_train=60)
  split = det_data.load("digits_detection", "train", cache_dir=tmp_path, canvas=config)
  counts = [len(r["boxes"]) for r in split.records]
  assert min(counts) >= 2 and max(counts) <= 4 and len(set(counts)) == 3
  for record in split.records:
    boxes = record["boxes"]
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    assert np.all((sides >= 14) & (sides <= 64))  # ink may fade at an edge: 16 - 2
    iou = np.asarray(detection.box_iou(boxes, boxes))
    np.testing.assert_array_less(iou[~np.eye(len(boxes), dtype=bool)], 0.05 + 1e-6)
    fragments = record["clutter_boxes"]
    assert 1 <= len(fragments) <= 3
    frag_sides = fragments[:, 2:] - fragments[:, :2]
    assert np.all((frag_sides >= 1) & (frag_sides <= 12))
    inside = np.asarray(detection.box_iou(fragments, boxes))  # small overlap: small IoU
    assert np.all(inside <= 0.1)
  plain = det_data.load("digits_detection", "train", cache_dir=tmp_path,
                        canvas=dataclasses.replace(config, clutter=False, num_train=5))
  assert all(len(r["clutter_boxes"]) == 0 for r in plain.records)


def test_canvas_config_names_a_bad_field():
  with pytest.raises(ValueError, match="min_digits"):
    det_data.CanvasConfig(min_digits=5, max_digits=2)
  with pytest.raises(ValueError, match="max_iou"):
    det_data.CanvasConfig(max_iou=1.5)


@pytest.mark.parametrize("shape, scale, content", [
    ((300, 500), 2.0, (600, 1000)),   # shorter side to 600
    ((100, 400), 2.5, (250, 1000)),   # 6x would make 2400 > 1000: longer side to 1000
    ((600, 800), 1.0, (600, 800)),
])
def test_resize_and_pad_follows_py_faster_rcnn(shape, scale, content):
  image = np.full(shape + (3,), 77, np.uint8)
  boxes = np.asarray([[10, 20, 110, 90]], np.float32)
  out, scaled, got_scale, size = det_data.resize_and_pad(
      image, boxes, min_size=600, max_size=1000, padded_shape=(1000, 1000))
  assert out.shape == (1000, 1000, 3) and out.dtype == np.uint8
  assert got_scale == scale and size == content
  np.testing.assert_allclose(scaled, boxes * scale)
  assert np.all(out[:content[0], :content[1]] == 77)
  assert not out[content[0]:].any() and not out[:, content[1]:].any()
  with pytest.raises(ValueError, match="padded_shape"):
    det_data.resize_and_pad(image, boxes, min_size=600, max_size=1000, padded_shape=(500, 500))


def _batch_kw(**overrides):
  kw = dict(min_size=256, max_size=256, padded_shape=(256, 256), max_boxes=8,
            mean=[0.2], std=[0.5])
  return {**kw, **overrides}


def test_eval_batches_cover_the_split_once_and_pad_the_last_batch(digit_splits):
  split = digit_splits["test"].subset(10)
  out = list(det_data.batches(split, 4, train=False, **_batch_kw()))
  assert len(out) == 3
  dtypes = {"image": np.float32, "boxes": np.float32, "labels": np.int32,
            "box_mask": bool, "difficult": bool, "image_size": np.int32,
            "scale": np.float32, "index": np.int32, "mask": bool}
  shapes = {"image": (4, 256, 256, 1), "boxes": (4, 8, 4), "labels": (4, 8),
            "box_mask": (4, 8), "difficult": (4, 8), "image_size": (4, 2), "scale": (4,),
            "index": (4,), "mask": (4,)}
  for batch in out:
    assert {k: (v.shape, v.dtype) for k, v in batch.items()} == {
        k: (shapes[k], np.dtype(dtypes[k])) for k in shapes}
  last = out[-1]
  np.testing.assert_array_equal(last["mask"], [True, True, False, False])
  np.testing.assert_array_equal(last["index"], [8, 9, 0, 1])
  np.testing.assert_array_equal(last["image"][2], out[0]["image"][0])
  for batch in out:
    for j, i in enumerate(batch["index"]):
      record = split.records[i]
      k = len(record["boxes"])
      assert batch["scale"][j] == 2.0 and list(batch["image_size"][j]) == [256, 256]
      np.testing.assert_array_equal(batch["boxes"][j, :k], record["boxes"] * 2)
      np.testing.assert_array_equal(batch["labels"][j, :k], record["labels"])
      np.testing.assert_array_equal(batch["box_mask"][j], np.arange(8) < k)
  # Black canvas pixels normalise to (0 - 0.2) / 0.5.
  assert np.isclose(out[0]["image"][0].min(), -0.4)


def test_padding_is_zero_after_normalisation_and_channels_convert():
  image = np.full((50, 100, 3), 200, np.uint8)
  record = {"image_path": "x", "image": image, "width": 100, "height": 50,
            "boxes": np.asarray([[0, 0, 10, 10]], np.float32), "labels": np.zeros(1, np.int32),
            "difficult": np.zeros(1, bool)}
  split = det_data.DetectionSplit(("thing",), [record], channels=3)
  batch = next(det_data.batches(split, 1, min_size=100, max_size=200, padded_shape=(120, 240),
                                max_boxes=2, train=False, mean=[0.5], std=[0.25],
                                channels=1))
  assert batch["image"].shape == (1, 120, 240, 1)
  np.testing.assert_array_equal(batch["image_size"], [[100, 200]])
  np.testing.assert_allclose(batch["image"][0, :100, :200], (200 / 255 - 0.5) / 0.25,
                             rtol=1e-6)
  assert not batch["image"][0, 100:].any() and not batch["image"][0, :, 200:].any()


def test_train_batches_shuffle_per_epoch_and_resume_bitwise(digit_splits):
  split = digit_splits["train"]
  kw = dict(train=True, seed=5, epoch=2, flip=True, **_batch_kw())
  full = list(det_data.batches(split, 6, **kw))
  resumed = list(det_data.batches(split, 6, start_batch=4, **kw))
  assert len(full) == 6 and len(resumed) == 2  # 40 // 6: the partial batch is dropped
  for a, b in zip(full[4:], resumed):
    for key in a:
      assert a[key].tobytes() == b[key].tobytes()
  order = np.concatenate([b["index"] for b in full])
  np.testing.assert_array_equal(order, np.random.default_rng([5, 2]).permutation(40)[:36])
  other = np.concatenate([b["index"] for b in det_data.batches(split, 6, **{**kw, "epoch": 3})])
  assert not np.array_equal(order, other)
  assert all(b["mask"].all() for b in full)
  with pytest.raises(ValueError, match="training only"):
    next(det_data.batches(split, 6, train=False, flip=True, **_batch_kw()))
  # A process of a multi-process run loads its rows: the same images, boxes and flips.
  for a, b in zip(full, det_data.batches(split, 6, rows=slice(2, 4), **kw)):
    for key in a:
      assert a[key][2:4].tobytes() == b[key].tobytes()


def test_flip_mirrors_the_image_and_its_boxes():
  image = np.zeros((40, 100, 1), np.uint8)
  image[5:15, 10:30] = 255
  box = np.asarray([[10, 5, 30, 15]], np.float32)
  record = {"image_path": "x", "image": image, "width": 100, "height": 40, "boxes": box,
            "labels": np.zeros(1, np.int32), "difficult": np.zeros(1, bool)}
  split = det_data.DetectionSplit(("block",), [record] * 16, channels=1)
  batch = next(det_data.batches(split, 16, min_size=80, max_size=200, padded_shape=(80, 200),
                                max_boxes=1, train=True, seed=0, flip=True))
  flipped = 0
  for image_out, boxes in zip(batch["image"], batch["boxes"]):
    expected = [[10, 5, 30, 15]] if image_out[20, 30, 0] > 0.5 else [[70, 5, 90, 15]]
    flipped += expected[0][0] == 70
    np.testing.assert_array_equal(boxes, np.asarray(expected) * 2)
    np.testing.assert_array_equal(_ink_box(image_out[..., 0] > 0.5), boxes[0])
  assert 0 < flipped < 16


def test_too_many_boxes_keep_the_first_and_warn(digit_splits):
  split = digit_splits["train"]
  many = next(i for i, r in enumerate(split.records) if len(r["boxes"]) > 2)
  with pytest.warns(UserWarning, match="max_boxes=2"):
    batch = next(det_data.batches(split.subset(many + 1), many + 1, train=False,
                                  **_batch_kw(max_boxes=2)))
  np.testing.assert_array_equal(batch["boxes"][many], split.records[many]["boxes"][:2] * 2)
  assert batch["box_mask"][many].all()


@pytest.mark.data
def test_raccoon_holds_out_its_last_40_images(shared_data):
  train = det_data.load("raccoon", "train", data_dir=shared_data / "raccoon")
  test = det_data.load("raccoon", "test", data_dir=shared_data / "raccoon")
  everything = det_data.load("raccoon", "all", data_dir=shared_data / "raccoon")
  assert (len(train), len(test), len(everything)) == (160, 40, 200)
  assert train.class_names == ("raccoon",) and train.channels == 3
  assert [r["image_path"].rsplit("/", 1)[1] for r in test.records] == [
      f"raccoon-{i}.jpg" for i in range(161, 201)]
  assert sum(len(r["boxes"]) for r in everything.records) == 217  # raccoon/SOURCE.md
  # raccoon-1.xml: 1-based (81, 88)-(522, 408) on a 650x417 image, continuous from (80, 87).
  np.testing.assert_array_equal(train.records[0]["boxes"], [[80, 87, 522, 408]])
  image = train.image(0)
  assert image.shape == (417, 650, 3) and image.dtype == np.uint8
  assert test.image(0).shape == (test.records[0]["height"], test.records[0]["width"], 3)


@pytest.mark.data
def test_coco128_and_the_same_folder_as_yolo_dir(shared_data):
  train = det_data.load("coco128", "train", data_dir=shared_data / "coco128")
  test = det_data.load("coco128", "test", data_dir=shared_data / "coco128")
  assert (len(train), len(test)) == (100, 28)
  assert train.class_names == detection.COCO_CLASSES
  assert sum(len(r["boxes"]) for r in train.records + test.records) == 929
  as_yolo = det_data.load("yolo_dir", "all", data_dir=shared_data / "coco128")
  assert [r["image_path"] for r in as_yolo.records] == [
      r["image_path"] for r in train.records + test.records]
  for r in as_yolo.records:  # boxes clipped into their image
    assert np.all(r["boxes"] >= 0) and np.all(r["boxes"][:, 2:] <= [r["width"], r["height"]])
  grey = [r["image_path"] for r in train.records].index(
      str(shared_data / "coco128" / "images" / "train2017" / "000000000086.jpg"))
  assert train.image(grey).shape == (640, 512, 3)  # a greyscale JPEG comes out RGB


def test_coco_json_reads_boxes_categories_and_crowds(tmp_path):
  (tmp_path / "images").mkdir()
  for name, size in (("a.jpg", (64, 48)), ("b.jpg", (32, 32))):
    Image.new("RGB", size).save(tmp_path / "images" / name)
  (tmp_path / "instances.json").write_text(json.dumps({
      "images": [{"id": 7, "file_name": "a.jpg", "width": 64, "height": 48},
                 {"id": 9, "file_name": "b.jpg", "width": 32, "height": 32}],
      "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}],
      "annotations": [
          {"id": 1, "image_id": 7, "category_id": 18, "bbox": [4, 5, 10, 20], "iscrowd": 0},
          {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 64, 48], "iscrowd": 1}]}))
  split = det_data.load("coco_json", "all", data_dir=tmp_path / "instances.json")
  assert split.class_names == ("person", "dog") and len(split) == 2
  a, b = split.records
  np.testing.assert_array_equal(a["boxes"], [[4, 5, 14, 25], [0, 0, 64, 48]])
  np.testing.assert_array_equal(a["labels"], [1, 0])
  np.testing.assert_array_equal(a["iscrowd"], [False, True])
  np.testing.assert_array_equal(a["difficult"], [False, True])
  assert len(b["boxes"]) == 0 and split.image(1).shape == (32, 32, 3)
  assert det_data.load("coco_json", "all", data_dir=tmp_path).class_names == ("person", "dog")


def _voc_xml(name: str, box: tuple[int, ...], filename: str = "a.jpg") -> str:
  x1, y1, x2, y2 = box
  return (f"<annotation><filename>{filename}</filename><size><width>64</width>"
          f"<height>48</height><depth>3</depth></size><object><name>{name}</name>"
          f"<difficult>0</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
          f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object></annotation>")


def test_voc_root_with_image_sets(tmp_path):
  (tmp_path / "Annotations").mkdir()
  (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
  (tmp_path / "Annotations" / "000001.xml").write_text(_voc_xml("dog", (1, 2, 30, 40)))
  (tmp_path / "Annotations" / "000002.xml").write_text(_voc_xml("cat", (5, 6, 64, 48)))
  (tmp_path / "ImageSets" / "Main" / "test.txt").write_text("000002\n")
  everything = det_data.load("voc_dir", "all", data_dir=tmp_path)
  assert everything.class_names == detection.VOC_CLASSES and len(everything) == 2
  np.testing.assert_array_equal(everything.records[0]["boxes"], [[0, 1, 30, 40]])
  np.testing.assert_array_equal(everything.records[0]["labels"], [11])  # VOC's dog
  test = det_data.load("voc_dir", "test", data_dir=tmp_path)
  assert len(test) == 1 and test.records[0]["labels"].tolist() == [7]  # VOC's cat
  with pytest.raises(ValueError, match="image set"):
    det_data.load("voc_dir", "train", data_dir=tmp_path)


@pytest.fixture
def raccoon_copy(shared_data, tmp_path):
  """Three raccoon annotations in a raccoon-like folder of tmp_path, to spoil."""
  root = tmp_path / "raccoon"
  (root / "annotations").mkdir(parents=True)
  (root / "images").mkdir()
  for i in (1, 2, 3):
    shutil.copy(shared_data / "raccoon" / "annotations" / f"raccoon-{i}.xml",
                root / "annotations")
  return root


def _one_line_error(match, **load_kw):
  with pytest.raises(ValueError, match=match) as error:
    det_data.load(**load_kw)
  assert "\n" not in str(error.value)


@pytest.mark.data
def test_broken_annotations_raise_one_line_naming_the_file(raccoon_copy):
  xml = raccoon_copy / "annotations" / "raccoon-2.xml"
  text = xml.read_text()
  kw = dict(name="raccoon", split="all", data_dir=raccoon_copy)
  xml.write_text(text[:200])
  _one_line_error(r"raccoon-2\.xml: not a parsable XML", **kw)
  xml.write_text(text.replace("<name>raccoon</name>", "<name>dog</name>"))
  _one_line_error(r"raccoon-2\.xml: class 'dog' is not in class_names", **kw)
  xml.write_text(text.replace("<xmin>", "<xmin>9").replace("<xmax>", "<xmax>0."))
  _one_line_error(r"raccoon-2\.xml: box .* has x2 < x1", **kw)
  width = int(text.split("<width>")[1].split("<")[0])
  xml.write_text(text.replace(text.split("<xmax>")[1].split("<")[0], str(width + 5)))
  _one_line_error(r"raccoon-2\.xml: box .* lies outside", **kw)
  xml.write_text(text.replace("<ymax>", "<ymax>x"))
  _one_line_error(r"raccoon-2\.xml: <bndbox><ymax> is 'x", **kw)
  xml.write_text(text.replace(text.split("<xmax>")[1].split("<")[0], str(width + 1)))
  edge = det_data.load(**kw).records[1]  # 1 px beyond the edge: a rounding, clipped
  assert edge["boxes"][0, 2] == width


def test_broken_yolo_labels_and_unknown_datasets_raise(tmp_path):
  (tmp_path / "images").mkdir()
  (tmp_path / "labels").mkdir()
  Image.new("RGB", (20, 10)).save(tmp_path / "images" / "a.png")
  (tmp_path / "classes.txt").write_text("cat\ndog\n")
  (tmp_path / "labels" / "a.txt").write_text("1 0.5 0.5 0.2 0.4\n")
  split = det_data.load("yolo_dir", "all", data_dir=tmp_path)
  assert split.class_names == ("cat", "dog") and split.records[0]["labels"].tolist() == [1]
  (tmp_path / "labels" / "a.txt").write_text("2 0.5 0.5 0.2 0.4\n")
  _one_line_error(r"a\.txt: class ids", name="yolo_dir", split="all", data_dir=tmp_path)
  (tmp_path / "labels" / "a.txt").write_text("1 0.5 zero 0.2 0.4\n")
  _one_line_error(r"a\.txt: expected lines of 5 numbers", name="yolo_dir", split="all",
                  data_dir=tmp_path)
  with pytest.raises(ValueError, match="unknown detection dataset"):
    det_data.load("mnist", "train")
  with pytest.raises(ValueError, match="splits"):
    det_data.load("digits_detection", "validation", cache_dir=tmp_path)


def test_tfds_voc_without_prepared_data_says_it_needs_the_internet(tmp_path):
  with pytest.raises(FileNotFoundError, match="internet"):
    det_data.load("voc", "test", data_dir=tmp_path)
