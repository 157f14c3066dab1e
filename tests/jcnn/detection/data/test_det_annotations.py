"""Annotation readers: the raccoon (VOC XML, CSV) and coco128 (YOLO) sets, and small files."""
import numpy as np
import pytest
from PIL import Image

from jcnn import detection


@pytest.mark.data
def test_raccoon_voc_xml_and_csv(shared_data):
  # raccoon/SOURCE.md: 200 JPEGs, 217 boxes.
  records = detection.load_raccoon(shared_data)
  assert len(records) == 200
  assert sum(len(r["boxes"]) for r in records) == 217
  first = records[0]  # raccoon-1.xml
  assert first["image_path"].endswith("raccoon-1.jpg")
  assert (first["width"], first["height"]) == (650, 417)
  np.testing.assert_array_equal(first["boxes"], [[81, 88, 522, 408]])
  assert first["class_names"] == ("raccoon",) and first["labels"].dtype == np.int32
  from_csv = detection.load_csv(shared_data / "raccoon" / "data" / "raccoon_labels.csv",
                                shared_data / "raccoon" / "images")
  assert [r["image_path"] for r in from_csv] == [r["image_path"] for r in records]
  for a, b in zip(records, from_csv):
    np.testing.assert_array_equal(a["boxes"], b["boxes"])


@pytest.mark.data
def test_coco128_yolo(shared_data):
  # coco128/SOURCE.md: 128 images, 929 boxes, 71 classes present, 2 background images.
  records = detection.load_coco128(shared_data)
  assert len(records) == 128
  assert sum(len(r["boxes"]) for r in records) == 929
  assert len(set(np.concatenate([r["labels"] for r in records]).tolist())) == 71
  empty = sorted(r["image_path"].rsplit("/", 1)[1] for r in records if len(r["boxes"]) == 0)
  assert empty == ["000000000250.jpg", "000000000508.jpg"]
  for r in records:
    assert np.all(r["boxes"][:, 2:] >= r["boxes"][:, :2])
    assert np.all(r["boxes"] >= -0.5) and np.all(r["boxes"][:, 2:] <= [r["width"] + 0.5,
                                                                       r["height"] + 0.5])


def test_read_voc_xml_with_difficult(tmp_path):
  (tmp_path / "Annotations").mkdir()
  xml = tmp_path / "Annotations" / "a.xml"
  xml.write_text("""<annotation><filename>a.jpg</filename>
    <size><width>64</width><height>48</height><depth>3</depth></size>
    <object><name>dog</name><difficult>0</difficult>
      <bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>
    <object><name>cat</name><difficult>1</difficult>
      <bndbox><xmin>5</xmin><ymin>6</ymin><xmax>7</xmax><ymax>8</ymax></bndbox></object>
  </annotation>""")
  record = detection.read_voc_xml(xml, detection.VOC_CLASSES)
  assert record["image_path"] == str(tmp_path / "images" / "a.jpg")
  np.testing.assert_array_equal(record["boxes"], [[1, 2, 30, 40], [5, 6, 7, 8]])
  np.testing.assert_array_equal(record["labels"], [11, 7])  # VOC: dog is 11, cat 7
  np.testing.assert_array_equal(record["difficult"], [False, True])
  with pytest.raises(ValueError, match="'dog'"):
    detection.read_voc_xml(xml, ("cat",))


def test_read_yolo_txt(tmp_path):
  Image.new("RGB", (100, 50)).save(tmp_path / "a.jpg")
  (tmp_path / "a.txt").write_text("3 0.5 0.5 0.2 0.4\n0 0.1 0.2 0.2 0.4\n")
  record = detection.read_yolo_txt(tmp_path / "a.txt", tmp_path / "a.jpg",
                                   detection.COCO_CLASSES)
  assert (record["width"], record["height"]) == (100, 50)
  np.testing.assert_allclose(record["boxes"], [[40, 15, 60, 35], [0, 0, 20, 20]])
  np.testing.assert_array_equal(record["labels"], [3, 0])
  assert detection.COCO_CLASSES[3] == "motorcycle" and len(detection.COCO_CLASSES) == 80
  assert len(detection.read_yolo_txt(None, tmp_path / "a.jpg", ("x",))["boxes"]) == 0
  (tmp_path / "b.txt").write_text("80 0.5 0.5 0.2 0.4\n")
  with pytest.raises(ValueError, match="class ids"):
    detection.read_yolo_txt(tmp_path / "b.txt", tmp_path / "a.jpg", detection.COCO_CLASSES)


def test_tfds_without_prepared_data_says_it_needs_the_internet(tmp_path):
  with pytest.raises(FileNotFoundError, match="internet"):
    next(detection.load_tfds("voc/2007", "test", data_dir=tmp_path))


def test_a_decompression_bomb_is_refused_by_name_when_read_or_sized(tmp_path):
  from jcnn.detection import data as det_data
  from tests.helpers import write_png_bomb
  bomb = write_png_bomb(tmp_path / "bomb.png")
  with pytest.raises(ValueError, match=r"cannot decode image .*bomb\.png: Image size"):
    detection.read_yolo_txt(None, bomb, ("x",))
  split = det_data.DetectionSplit(
      class_names=("x",), channels=3,
      records=[{"image_path": str(bomb), "width": 20_000, "height": 20_000,
                "boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int32)}])
  with pytest.raises(ValueError, match=r"cannot decode image .*bomb\.png: Image size"):
    split.image(0)
