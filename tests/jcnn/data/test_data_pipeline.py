"""`batches`, augmentation, `prepare`, statistics and `prefetch`, on the real digits."""
import itertools
import threading

import numpy as np
import pytest

from jcnn import data


@pytest.fixture(scope="module")
def digits():
  return data.load("digits", "train")  # 1,347 real 8x8 images.


def _stack(batch_iter):
  batch_list = list(batch_iter)
  return {k: np.stack([b[k] for b in batch_list]) for k in ("image", "label", "mask")}


def test_train_batches_are_deterministic_and_reshuffle_each_epoch(digits):
  kw = dict(train=True, seed=3, crop_padding=2, flip=True)
  first = _stack(data.batches(digits, 64, epoch=0, **kw))
  again = _stack(data.batches(digits, 64, epoch=0, **kw))
  other = _stack(data.batches(digits, 64, epoch=1, **kw))
  assert data.steps_per_epoch(1347, 64) == 21
  assert first["image"].shape == (21, 64, 8, 8, 1)
  for key in first:
    np.testing.assert_array_equal(first[key], again[key])
  assert not np.array_equal(first["label"], other["label"])
  np.testing.assert_array_equal(first["mask"], 1)
  # Each epoch draws 1,344 distinct examples: only the last partial batch is dropped.
  order = np.random.default_rng([3, 0]).permutation(1347)[:1344]
  np.testing.assert_array_equal(first["label"].ravel(), digits.labels[order])


def test_resume_at_start_batch_repeats_the_uninterrupted_epoch_bitwise(digits):
  kw = dict(train=True, seed=7, epoch=4, crop_padding=3, flip=True,
            mean=data.DATASET_STATS["digits"][0], std=data.DATASET_STATS["digits"][1])
  full = list(data.batches(digits, 100, **kw))
  resumed = list(data.batches(digits, 100, start_batch=9, **kw))
  assert len(full) == 13 and len(resumed) == 4
  for a, b in zip(full[9:], resumed):
    for key in a:
      assert a[key].tobytes() == b[key].tobytes()


@pytest.mark.parametrize("train", [True, False])
def test_a_process_rows_are_those_rows_of_the_whole_batch(digits, train):
  # What each process of a multi-process run loads (jcnn.parallel.local_rows): the same
  # examples, crops, flips and eval mask as the whole batch's rows.
  kw = dict(train=train, seed=2, epoch=1, crop_padding=2 if train else 0, flip=train)
  whole = list(data.batches(digits, 128, **kw))
  for rows in (slice(0, 32), slice(32, 96), slice(96, 128)):
    part = list(data.batches(digits, 128, rows=rows, **kw))
    assert len(part) == len(whole)
    for a, b in zip(whole, part):
      for key in a:
        assert a[key][rows].tobytes() == b[key].tobytes()
  if not train:
    assert part[-1]["mask"].sum() == 0  # 1,347 = 10 x 128 + 67: the last rows pad


def test_eval_covers_every_example_once_in_one_shape(digits):
  out = list(data.batches(digits, 128, train=False))
  assert len(out) == 11 and {b["image"].shape for b in out} == {(128, 8, 8, 1)}
  mask = np.concatenate([b["mask"] for b in out])
  assert mask.sum() == len(digits) and mask.dtype == np.float32
  np.testing.assert_array_equal(mask, np.arange(11 * 128) < len(digits))
  images = np.concatenate([b["image"] for b in out])[mask > 0]
  np.testing.assert_array_equal(images, digits.images / np.float32(255))
  np.testing.assert_array_equal(np.concatenate([b["label"] for b in out])[mask > 0],
                                digits.labels)
  tail = list(data.batches(digits, 128, train=False, start_batch=10))
  np.testing.assert_array_equal(tail[0]["image"], out[10]["image"])


def test_no_augmentation_gives_the_plain_normalised_images(digits):
  mean, std = data.DATASET_STATS["digits"]
  batch = next(data.batches(digits, 32, train=True, seed=1, mean=mean, std=std))
  order = np.random.default_rng([1, 0]).permutation(len(digits))[:32]
  expected = (digits.images[order] / np.float32(255) - np.float32(mean[0])) / np.float32(std[0])
  np.testing.assert_array_equal(batch["image"], expected)
  assert batch["image"].dtype == np.float32 and batch["label"].dtype == np.int32
  # A digit's blank corner maps to -mean/std, its brightest stroke to (1 - mean)/std.
  np.testing.assert_allclose([batch["image"].min(), batch["image"].max()],
                             [-0.3053 / 0.3758, (1 - 0.3053) / 0.3758], rtol=1e-6)


def test_per_channel_normalisation():
  rng = np.random.default_rng(0)
  split = data.Split(images=rng.integers(0, 256, (10, 4, 4, 3), dtype=np.uint8),
                     labels=np.zeros(10, np.int32), class_names=("x",), name="t", split="t")
  mean, std = data.DATASET_STATS["cifar10"]
  batch = next(data.batches(split, 10, train=False, mean=mean, std=std))
  expected = (split.images / 255 - np.array(mean)) / np.array(std)
  np.testing.assert_allclose(batch["image"], expected, rtol=1e-5, atol=1e-6)


def test_random_crop_takes_a_window_of_the_zero_padded_image(digits):
  images = digits.images[:50]
  crops = data.random_crop(images, 2, np.random.default_rng(0))
  dy, dx = np.random.default_rng(0).integers(0, 5, size=(2, 50))
  padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
  for i in range(50):
    np.testing.assert_array_equal(crops[i], padded[i, dy[i]:dy[i] + 8, dx[i]:dx[i] + 8])
  assert len({(a, b) for a, b in zip(dy, dx)}) > 10
  assert data.random_crop(images, 0, np.random.default_rng(0)) is images


def test_random_flip_mirrors_about_half(digits):
  images = digits.images[:400]
  flipped = data.random_flip(images, np.random.default_rng(0))
  mirrored = np.array([not np.array_equal(a, b) for a, b in zip(flipped, images)])
  for a, b, m in zip(flipped, images, mirrored):
    np.testing.assert_array_equal(a, b[:, ::-1] if m else b)
  assert 160 < mirrored.sum() < 240


def test_batches_validate_their_arguments(digits):
  with pytest.raises(ValueError, match="batch_size 2000 exceeds the 1347"):
    next(data.batches(digits, 2000, train=True))
  with pytest.raises(ValueError, match="batch_size must be > 0, got 0"):
    next(data.batches(digits, 0, train=False))
  with pytest.raises(ValueError, match="crop_padding must be >= 0, got -1"):
    next(data.batches(digits, 8, train=True, crop_padding=-1))
  with pytest.raises(ValueError, match="training only"):
    next(data.batches(digits, 8, train=False, flip=True))
  with pytest.raises(ValueError, match="start_batch must be in \\[0, 168\\], got 169"):
    next(data.batches(digits, 8, train=True, start_batch=169))
  with pytest.raises(ValueError, match="mean has 3 values for 1 channels"):
    next(data.batches(digits, 8, train=True, mean=(0.5,) * 3, std=(0.5,) * 3))
  assert len(list(data.batches(digits, 2000, train=False))) == 1


def test_prepare_resizes_and_pads(digits):
  big = data.prepare(digits, resize=32)
  assert big.images.shape == (1347, 32, 32, 1) and big.labels is digits.labels
  # Bilinear upsampling keeps a digit's overall brightness.
  np.testing.assert_allclose(big.images.mean((1, 2, 3)), digits.images.mean((1, 2, 3)), atol=6)
  padded = data.prepare(digits, pad=2)
  assert padded.images.shape == (1347, 12, 12, 1)
  np.testing.assert_array_equal(padded.images[:, 2:-2, 2:-2], digits.images)
  assert padded.images[:, :2].max() == 0 and padded.images[:, :, -2:].max() == 0
  with pytest.raises(ValueError, match="-1"):
    data.prepare(digits, pad=-1)


def test_channel_stats_match_the_table(digits):
  mean, std = data.channel_stats(digits)
  np.testing.assert_allclose(mean, data.DATASET_STATS["digits"][0], atol=1e-4)
  np.testing.assert_allclose(std, data.DATASET_STATS["digits"][1], atol=1e-4)
  pixels = digits.images / 255
  np.testing.assert_allclose([mean[0], std[0]], [pixels.mean(), pixels.std()], rtol=1e-10)


def test_split_rejects_inconsistent_arrays():
  with pytest.raises(ValueError, match="labels span"):
    data.Split(images=np.zeros((2, 1, 1, 1), np.uint8), labels=np.array([0, 5], np.int32),
               class_names=("a", "b"), name="t", split="t")
  with pytest.raises(ValueError, match="float64"):
    data.Split(images=np.zeros((2, 1, 1, 1)), labels=np.zeros(2, np.int32),
               class_names=("a",), name="t", split="t")


def test_prefetch_yields_the_same_items(digits):
  direct = list(data.batches(digits, 100, train=True, seed=2, flip=True))
  fetched = list(data.prefetch(data.batches(digits, 100, train=True, seed=2, flip=True), 3))
  assert len(fetched) == len(direct)
  for a, b in zip(direct, fetched):
    np.testing.assert_array_equal(a["image"], b["image"])


def test_prefetch_reraises_the_producers_error():
  def failing():
    yield 1
    yield 2
    raise RuntimeError("disk vanished")

  items = data.prefetch(failing())
  assert [next(items), next(items)] == [1, 2]
  with pytest.raises(RuntimeError, match="disk vanished"):
    next(items)


def test_abandoned_prefetch_stops_its_thread():
  before = set(threading.enumerate())
  items = data.prefetch(itertools.count(), size=2)
  assert next(items) == 0
  (producer,) = [t for t in threading.enumerate() if t not in before]
  assert producer.daemon
  items.close()  # The producer is blocked on a full queue of an endless iterator.
  producer.join(timeout=5)
  assert not producer.is_alive()
  with pytest.raises(ValueError, match="got 0"):
    data.prefetch([], size=0)
