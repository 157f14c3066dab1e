"""`balanced_subset` and the `train_examples` / `eval_examples` config fields."""
import numpy as np
import pytest

from jcnn import data, tasks
from jcnn.tasks import classification
from train.configs import default


def _split(labels):
  labels = np.asarray(labels, np.int32)
  images = np.arange(len(labels), dtype=np.uint8).reshape(-1, 1, 1, 1)
  return data.Split(images=images, labels=labels, class_names=("a", "b", "c"), name="toy",
                    split="train")


def test_classes_take_turns_and_the_split_order_is_kept():
  split = _split([0, 0, 0, 0, 1, 1, 2, 2, 2, 1, 0])
  sub = data.balanced_subset(split, 7)
  # Ranks 0 and 1 of every class (6 examples), then class 0's third example.
  np.testing.assert_array_equal(sub.images.ravel(), [0, 1, 2, 4, 5, 6, 7])
  np.testing.assert_array_equal(sub.labels, [0, 0, 0, 1, 1, 2, 2])
  assert sub.class_names == split.class_names


def test_a_class_that_runs_out_leaves_its_turns_to_the_others():
  split = _split([1, 0, 0, 0, 0, 2])
  np.testing.assert_array_equal(data.balanced_subset(split, 4).labels, [1, 0, 0, 2])
  assert data.balanced_subset(split, 6) is not split  # all of it, as a new Split
  np.testing.assert_array_equal(data.balanced_subset(split, 6).labels, split.labels)


def test_counts_are_balanced_on_real_digits():
  digits = data.load("digits", "train")
  sub = data.balanced_subset(digits, 503)
  counts = np.bincount(sub.labels, minlength=10)
  assert counts.sum() == 503 and counts.max() - counts.min() == 1


@pytest.mark.parametrize("n", [0, -1, 12])
def test_impossible_sizes_are_named(n):
  with pytest.raises(ValueError, match=f"cannot take {n} examples of 11"):
    data.balanced_subset(_split([0] * 11), n)


def test_load_split_cuts_each_split_before_resizing():
  config = default.get_config()  # digits 8x8, resized to 32x32
  config.train_examples, config.eval_examples = 100, 30
  train = classification.load_split(config, "train")
  test = classification.load_split(config, "test")
  assert train.images.shape == (100, 32, 32, 1) and test.images.shape == (30, 32, 32, 1)
  np.testing.assert_array_equal(np.bincount(train.labels), [10] * 10)
  config.eval_split = "other"  # a split that is neither is loaded whole
  assert len(classification.load_split(config, "test")) == 450


def test_negative_sizes_are_rejected_by_validate():
  config = default.get_config()
  config.eval_examples = -5
  with pytest.raises(ValueError, match="config.eval_examples=-5 must be >= 0"):
    tasks.validate(config)
