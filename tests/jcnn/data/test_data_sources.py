"""`jcnn.data.load` on real data: digits, and MNIST / Fashion-MNIST prepared offline by TFDS."""
import gzip
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from jcnn import data


def _read_idx(path) -> np.ndarray:
  """The raw idx arrays, read independently of TFDS: big-endian dims after a 4-byte magic."""
  raw = gzip.open(path).read()
  ndim = raw[3]
  shape = np.frombuffer(raw, ">i4", ndim, 4)
  return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _as_sorted_rows(images: np.ndarray, labels: np.ndarray) -> list[bytes]:
  """Each example as bytes (label then pixels), sorted: a multiset to compare orders freely."""
  rows = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(images), -1)], 1)
  return sorted(row.tobytes() for row in rows)


@pytest.fixture(scope="session")
def tfds_cache(tmp_path_factory):
  return tmp_path_factory.mktemp("tfds")


@pytest.fixture(scope="session")
def mnist(shared_data, tfds_cache):
  return {s: data.load("mnist", s, data_dir=shared_data / "mnist", cache_dir=tfds_cache)
          for s in ("train", "test")}


@pytest.fixture(scope="session")
def fashion_mnist(shared_data, tfds_cache, mnist):
  # After mnist in the same cache: TFDS would reuse mnist's extracted files of the same name.
  del mnist
  with pytest.MonkeyPatch.context() as patch:  # Exercises the $JCNN_DATA_DIR/<name> default.
    patch.setenv("JCNN_DATA_DIR", str(shared_data))
    return {s: data.load("fashion_mnist", s, cache_dir=tfds_cache) for s in ("train", "test")}


def test_digits_sizes_and_types():
  train, test = data.load("digits", "train"), data.load("digits", "test")
  assert (len(train), len(test)) == (1347, 450)
  assert train.num_classes == 10 and train.class_names == tuple("0123456789")
  assert train.images.shape == (1347, 8, 8, 1) and train.images.dtype == np.uint8
  assert train.labels.dtype == np.int32
  assert max(train.images.max(), test.images.max()) == 255


def test_digits_is_deterministic_and_stratified():
  first, again = data.load("digits", "train"), data.load("digits", "train")
  np.testing.assert_array_equal(first.images, again.images)
  np.testing.assert_array_equal(first.labels, again.labels)
  totals = np.array([178, 182, 177, 183, 181, 182, 181, 179, 174, 180])  # Digits per class.
  test_counts = np.bincount(data.load("digits", "test").labels)
  np.testing.assert_array_equal(np.bincount(first.labels) + test_counts, totals)
  # Stratified: every class within one example of its 25% share.
  assert np.all(np.abs(test_counts - totals / 4) < 1), test_counts
  np.testing.assert_array_equal(test_counts, [45, 46, 44, 46, 45, 46, 45, 45, 43, 45])


def test_digits_pixels_are_the_scaled_sklearn_pixels():
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  original = datasets.load_digits().images  # [1797, 8, 8], values 0..16
  train, test = data.load("digits", "train"), data.load("digits", "test")
  ours = np.concatenate([train.images, test.images])[..., 0].astype(np.float64) * 16 / 255
  assert sorted(map(bytes, np.round(ours).astype(np.uint8))) == sorted(
      map(bytes, original.astype(np.uint8)))


def test_digits_rejects_unknown_split_and_data_dir():
  with pytest.raises(ValueError, match="'validation'"):
    data.load("digits", "validation")
  with pytest.raises(ValueError, match="/some/dir"):
    data.load("digits", "train", data_dir="/some/dir")


def test_digits_does_not_import_tensorflow():
  code = ("import sys; from jcnn import data; data.load('digits', 'train'); "
          "print('tensorflow' in sys.modules)")
  repo = pathlib.Path(data.__file__).parents[2]
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       cwd=repo)
  assert out.stdout.strip() == "False"


def test_mnist_equals_the_raw_idx_files(mnist, shared_data):
  train, test = mnist["train"], mnist["test"]
  assert (len(train), len(test)) == (60000, 10000)
  assert train.images.shape == (60000, 28, 28, 1) and train.labels.dtype == np.int32
  assert train.class_names == tuple("0123456789")
  raw_labels = _read_idx(shared_data / "mnist" / "train-labels-idx1-ubyte.gz")
  raw_images = _read_idx(shared_data / "mnist" / "train-images-idx3-ubyte.gz")
  # The original file order starts 5, 0, 4, 1; TFDS stores a fixed shuffle of it.
  assert raw_labels[:4].tolist() == [5, 0, 4, 1]
  assert train.labels[:4].tolist() == [4, 1, 0, 7]
  assert _as_sorted_rows(train.images, train.labels) == _as_sorted_rows(raw_images, raw_labels)
  raw_test_labels = _read_idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz")
  raw_test_images = _read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")
  assert raw_test_labels[0] == 7
  assert _as_sorted_rows(test.images, test.labels) == _as_sorted_rows(raw_test_images,
                                                                       raw_test_labels)


def test_mnist_stats_match_the_published_values(mnist):
  mean, std = data.channel_stats(mnist["train"])
  np.testing.assert_allclose(mean, data.DATASET_STATS["mnist"][0], atol=1e-4)
  np.testing.assert_allclose(std, data.DATASET_STATS["mnist"][1], atol=1e-4)


def test_fashion_mnist_sizes_values_and_stats(fashion_mnist, shared_data):
  train, test = fashion_mnist["train"], fashion_mnist["test"]
  assert (len(train), len(test)) == (60000, 10000)
  assert train.class_names[0] == "T-shirt/top" and train.class_names[-1] == "Ankle boot"
  raw_labels = _read_idx(shared_data / "fashion_mnist" / "t10k-labels-idx1-ubyte.gz")
  raw_images = _read_idx(shared_data / "fashion_mnist" / "t10k-images-idx3-ubyte.gz")
  assert _as_sorted_rows(test.images, test.labels) == _as_sorted_rows(raw_images, raw_labels)
  mean, std = data.channel_stats(train)
  np.testing.assert_allclose(mean, data.DATASET_STATS["fashion_mnist"][0], atol=1e-4)
  np.testing.assert_allclose(std, data.DATASET_STATS["fashion_mnist"][1], atol=1e-4)


def test_prepared_tfds_dataset_needs_no_source_files(mnist, tfds_cache, tmp_path):
  del mnist  # Prepared it.
  again = data.load("mnist", "test[:5]", data_dir=tmp_path / "absent", cache_dir=tfds_cache)
  assert len(again) == 5 and again.split == "test[:5]"


def test_missing_source_files_fail_fast_naming_the_folder(tmp_path):
  (tmp_path / "empty").mkdir()
  with pytest.raises(FileNotFoundError, match=r"(?s)cannot download.*empty.*"
                     r"train-images-idx3-ubyte\.gz"):
    data.load("kmnist", "train", data_dir=tmp_path / "empty", cache_dir=tmp_path / "cache")
  with pytest.raises(FileNotFoundError, match="JCNN_DATA_DIR"):
    with pytest.MonkeyPatch.context() as patch:
      patch.delenv("JCNN_DATA_DIR", raising=False)
      data.load("kmnist", "train", cache_dir=tmp_path / "cache")


def test_unknown_name_lists_close_tfds_names(tmp_path):
  with pytest.raises(ValueError, match=r"(?s)'mnistt'.*neither.*'mnist'"):
    data.load("mnistt", "train", cache_dir=tmp_path)
