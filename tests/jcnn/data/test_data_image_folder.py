"""`load("image_folder", ...)` on a small folder of real CIFAR-10 JPEGs, plain and zipped."""
import io
import pathlib
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from jcnn import data
from jcnn.data import image_folder
from tests.helpers import write_png_bomb

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


@pytest.fixture(scope="session")
def tiny_cifar(shared_data, tmp_path_factory) -> pathlib.Path:
  """10 train and 3 test images per class, copied out of the real zip: `train|test/<class>/`."""
  root = tmp_path_factory.mktemp("tiny_cifar") / "tiny_cifar"
  with zipfile.ZipFile(shared_data / "cifar10" / "cifar10_jpeg_q75.zip") as archive:
    for split, count in (("train", 10), ("test", 3)):
      for name in CIFAR10_CLASSES:
        for i in range(count):
          member = f"{split}/{name}/{i:04d}.jpg"
          (root / split / name).mkdir(parents=True, exist_ok=True)
          (root / member).write_bytes(archive.read(member))
  return root


@pytest.fixture
def folder(tiny_cifar, tmp_path) -> pathlib.Path:
  """A copy each test may change."""
  return pathlib.Path(shutil.copytree(tiny_cifar, tmp_path / "tiny_cifar"))


def _load(path, split, cache):
  return data.load("image_folder", split, data_dir=path, cache_dir=cache)


def test_loads_classes_shapes_and_pixels(folder, tmp_path):
  train = _load(folder, "train", tmp_path / "cache")
  assert train.class_names == CIFAR10_CLASSES
  assert train.images.shape == (100, 32, 32, 3) and train.images.dtype == np.uint8
  np.testing.assert_array_equal(train.labels, np.repeat(np.arange(10), 10))
  # Class-major, file-name order: image 13 is automobile/0003.jpg.
  expected = np.asarray(Image.open(folder / "train" / "automobile" / "0003.jpg").convert("RGB"))
  np.testing.assert_array_equal(train.images[13], expected)
  assert len(_load(folder, "test", tmp_path / "cache")) == 30


def test_second_load_reads_the_cache_until_the_files_change(folder, tmp_path, monkeypatch):
  first = _load(folder, "train", tmp_path / "cache")
  assert len(list((tmp_path / "cache").glob("*/train-*.npz"))) == 1

  def no_decoding(files):
    raise AssertionError(f"decoded {len(files)} files instead of reading the cache")

  with monkeypatch.context() as patch:
    patch.setattr(image_folder, "decode_images", no_decoding)
    cached = _load(folder, "train", tmp_path / "cache")
  np.testing.assert_array_equal(cached.images, first.images)
  np.testing.assert_array_equal(cached.labels, first.labels)
  shutil.copy(folder / "train" / "cat" / "0000.jpg", folder / "train" / "cat" / "extra.jpg")
  grown = _load(folder, "train", tmp_path / "cache")
  assert len(grown) == 101 and np.bincount(grown.labels)[3] == 11
  assert len(list((tmp_path / "cache").glob("*/train-*.npz"))) == 1  # The stale one is gone.


def test_zip_with_a_top_folder_is_extracted_once(folder, tmp_path):
  zip_path = tmp_path / "tiny.zip"
  with zipfile.ZipFile(zip_path, "w") as archive:
    for file in sorted(folder.rglob("*.jpg")):
      archive.write(file, "top/" + file.relative_to(folder).as_posix())
  from_zip = _load(zip_path, "train", tmp_path / "cache")
  from_folder = _load(folder, "train", tmp_path / "cache")
  np.testing.assert_array_equal(from_zip.images, from_folder.images)
  assert from_zip.class_names == CIFAR10_CLASSES and from_zip.name == "tiny"
  extracted = list((tmp_path / "cache").glob("tiny-*/extracted"))
  assert len(extracted) == 1
  assert len(_load(zip_path, "test", tmp_path / "cache")) == 30
  assert list((tmp_path / "cache").glob("tiny-*/extracted")) == extracted
  assert not list((tmp_path / "cache").glob("tiny-*/.extracting-*"))


def test_grayscale_folder_gives_one_channel_and_mixed_gives_rgb(tmp_path):
  rng = np.random.default_rng(0)
  pixels = rng.integers(0, 256, (3, 5, 4), dtype=np.uint8)
  for i, image in enumerate(pixels):
    (tmp_path / "gray" / "train" / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(tmp_path / "gray" / "train" / f"c{i % 2}" / f"{i}.png")
  gray = _load(tmp_path / "gray", "train", tmp_path / "cache")
  assert gray.images.shape == (3, 5, 4, 1) and gray.class_names == ("c0", "c1")
  np.testing.assert_array_equal(gray.images[..., 0], pixels[[0, 2, 1]])
  rgb = np.stack([pixels[0]] * 3, -1)
  Image.fromarray(rgb).save(tmp_path / "gray" / "train" / "c1" / "rgb.png")
  mixed = _load(tmp_path / "gray", "train", tmp_path / "cache")
  assert mixed.images.shape == (4, 5, 4, 3)
  np.testing.assert_array_equal(mixed.images[0], rgb)


def test_corrupt_image_is_named(folder, tmp_path):
  (folder / "train" / "dog" / "0005.jpg").write_bytes(b"not a jpeg at all")
  with pytest.raises(ValueError, match=r"dog/0005\.jpg"):
    _load(folder, "train", tmp_path / "cache")


def test_a_decompression_bomb_is_refused_and_named(folder, tmp_path):
  write_png_bomb(folder / "train" / "dog" / "0005.png")
  with pytest.raises(ValueError, match=r"cannot decode image .*dog/0005\.png: Image size "
                     r"\(400000000 pixels\) exceeds limit"):
    _load(folder, "train", tmp_path / "cache")


def test_truncated_image_is_named(folder, tmp_path):
  path = folder / "train" / "frog" / "0002.jpg"
  path.write_bytes(path.read_bytes()[:300])
  with pytest.raises(ValueError, match=r"frog/0002\.jpg"):
    _load(folder, "train", tmp_path / "cache")


def test_image_of_another_size_is_named(folder, tmp_path):
  buffer = io.BytesIO()
  Image.new("RGB", (16, 16)).save(buffer, "PNG")
  (folder / "train" / "ship" / "small.png").write_bytes(buffer.getvalue())
  with pytest.raises(ValueError, match=r"ship/small\.png is 16x16.*32x32"):
    _load(folder, "train", tmp_path / "cache")


def test_missing_folder_and_split_are_named(folder, tmp_path):
  with pytest.raises(FileNotFoundError, match=r"nowhere.*<split>/<class>/<image>"):
    _load(tmp_path / "nowhere", "train", tmp_path / "cache")
  with pytest.raises(FileNotFoundError, match=r"(?s)tiny_cifar/validation.*'test', 'train'"):
    _load(folder, "validation", tmp_path / "cache")
  with pytest.raises(ValueError, match="needs data_dir"):
    data.load("image_folder", "train")
