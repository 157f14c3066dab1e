"""R-CNN's fine-tuning windows and batches on real digit canvases."""
import numpy as np
import pytest

from jcnn.detection import data as det_data
from jcnn.detection import proposal_cache, rcnn
from jcnn.detection.data import regions


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  split = det_data.load("digits_detection", "train").subset(6)
  cache = proposal_cache.compute(split, tmp_path_factory.mktemp("p") / "proposals.npz",
                                 dict(min_box_size=8))
  images = np.stack([split.image(i) for i in range(len(split))])
  return split, cache, images, regions.windows(split, cache)


def test_windows_are_the_ground_truth_and_every_proposal_labelled(data):
  split, cache, _, found = data
  gt = sum(len(r["boxes"]) for r in split.records)
  assert len(found) == gt + sum(len(cache[i]) for i in range(len(split)))
  first = split.records[0]
  n = len(first["boxes"])
  np.testing.assert_array_equal(found.labels[:n], np.asarray(first["labels"]) + 1)
  np.testing.assert_allclose(found.iou[:n], 1.0)
  assert set(found.labels[found.iou < 0.5]) == {0}
  assert np.all(found.labels[found.iou >= 0.5] > 0)


def test_batches_hold_32_foreground_warped_from_their_image(data):
  split, _, images, found = data
  assert found.num_foreground >= 32
  batch = next(regions.batches(split, found, images, size=32, context=4, num_batches=1,
                               mean=(100 / 255,), std=(50 / 255,)))
  assert batch["image"].shape == (128, 32, 32, 1) and batch["label"].shape == (128,)
  assert (batch["label"] > 0).sum() == 32
  # The same window warped alone, from its normalised image.
  rng = np.random.default_rng([0, 0, 0])
  chosen = rcnn.sample_regions(rng, found.labels)
  k = chosen[0]
  image = (images[found.image[k]].astype(np.float32) - 100.0) / 50.0
  alone = rcnn.warp_regions(image, found.boxes[k:k + 1], 32, 4)
  np.testing.assert_allclose(batch["image"][0], np.asarray(alone)[0], atol=1e-5)


def test_a_resumed_epoch_sees_the_same_batches(data):
  split, _, images, found = data
  kwargs = dict(size=16, context=2, num_batches=3, batch_size=16, positives=4, epoch=2)
  whole = list(regions.batches(split, found, images, **kwargs))
  resumed = list(regions.batches(split, found, images, start_batch=1, **kwargs))
  assert len(whole) == 3 and len(resumed) == 2
  for a, b in zip(whole[1:], resumed):
    np.testing.assert_array_equal(a["image"], b["image"])
    np.testing.assert_array_equal(a["label"], b["label"])
  other_epoch = next(regions.batches(split, found, images, **{**kwargs, "epoch": 3}))
  assert not np.array_equal(other_epoch["label"], whole[0]["label"]) or not np.array_equal(
      other_epoch["image"], whole[0]["image"])


def test_mismatched_cache_or_images_are_refused(data):
  split, cache, images, found = data
  with pytest.raises(ValueError, match="proposals cache holds 6 images, the split 5"):
    regions.windows(split.subset(5), cache)
  with pytest.raises(ValueError, match="5 images for a split of 6"):
    next(regions.batches(split, found, images[:5], size=16, context=2, num_batches=1))


def test_windows_are_normalised_as_classification_batches_are(data):
  # Statistics of [0, 1] pixels, as `jcnn.data.batches` and a pre-trained run's
  # dataset info give them: white ink is (1 - mean) / std, black is -mean / std.
  split, _, images, found = data
  batch = next(regions.sampled(split, found, images, num_batches=1, mean=(0.5,),
                               std=(0.25,)))
  used = batch["images"][:len(np.unique(batch["index"]))]
  assert used.min() == pytest.approx(-2.0) and used.max() == pytest.approx(2.0)
