"""DetectionEvaluator: detections back in original pixels, padding dropped, VOC/COCO AP."""
import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import parallel
from jcnn.evaluators import DetectionEvaluator

SIDE = 128       # network input: the images are resized so their longer side is 128
SLOTS = 4        # detections per image (max_detections)
CLASS_NAMES = ("cat", "dog", "bird", "fish")  # no fish in the split: AP undefined


@dataclasses.dataclass(frozen=True)
class StandInSplit:
  """The DetectionSplit attributes the evaluator reads (jcnn.detection.data's type)."""
  class_names: tuple
  records: list
  channels: int = 1

  def __len__(self):
    return len(self.records)


def _record(height, width, boxes, labels, difficult=None):
  return {"width": width, "height": height, "boxes": np.array(boxes, np.float32),
          "labels": np.array(labels, np.int32),
          "difficult": np.array(difficult or [False] * len(labels)),
          "class_names": CLASS_NAMES}


SPLIT = StandInSplit(CLASS_NAMES, [
    _record(40, 60, [[5, 5, 20, 25], [30, 10, 55, 35]], [0, 1]),
    _record(50, 50, [[10, 10, 40, 40], [0, 0, 8, 8]], [2, 0], [False, True]),
    _record(30, 80, [[2, 3, 30, 28]], [1]),
    _record(64, 32, [[4, 4, 28, 60], [10, 20, 20, 30]], [0, 2]),
    _record(20, 20, [[1, 1, 19, 19]], [1]),
])
SCALES = [SIDE / max(r["width"], r["height"]) for r in SPLIT.records]
PADDING_ROW = len(SPLIT.records)  # the fake's row of what a padding example "detects"


def fake_apply(variables, images, image_sizes, train=False):
  """Looks up precomputed detections by the row number written in pixel (0, 0)."""
  assert not train and image_sizes.shape == (images.shape[0], 2)
  rows = images[:, 0, 0, 0].astype(jnp.int32)
  return {k: variables[k][rows] for k in ("boxes", "scores", "labels", "valid")}


def fake_batches(batch_size=2):
  """Evaluation batches as jcnn.detection.data.batches makes them: the last one padded
  with a repeat of example 0 (mask False), whose fake detections are garbage."""
  n = len(SPLIT.records)
  for start in range(0, n, batch_size):
    indices = list(range(start, min(start + batch_size, n)))
    pad = batch_size - len(indices)
    images = np.zeros((batch_size, SIDE, SIDE, 1), np.float32)
    images[:, 0, 0, 0] = indices + [PADDING_ROW] * pad
    sizes = [[round(SPLIT.records[i]["height"] * SCALES[i]),
              round(SPLIT.records[i]["width"] * SCALES[i])] for i in indices + [0] * pad]
    yield {"image": images, "image_size": np.array(sizes, np.int32),
           "scale": np.array([SCALES[i] for i in indices + [0] * pad], np.float32),
           "index": np.array(indices + [0] * pad, np.int32),
           "mask": np.array([True] * len(indices) + [False] * pad)}


def perfect_detections(skip=()):
  """Fake variables: each image's ground truth in network-input pixels, then an invalid
  slot; the padding row detects a confident wrong box."""
  n = len(SPLIT.records) + 1
  v = {"boxes": np.zeros((n, SLOTS, 4), np.float32), "scores": np.zeros((n, SLOTS), np.float32),
       "labels": np.zeros((n, SLOTS), np.int32), "valid": np.zeros((n, SLOTS), bool)}
  for i, (record, scale) in enumerate(zip(SPLIT.records, SCALES)):
    count = len(record["labels"])
    v["boxes"][i, :count] = record["boxes"] * scale
    v["labels"][i, :count] = record["labels"]
    v["scores"][i, :count] = 0.9 - 0.1 * np.arange(count)
    v["valid"][i, :count] = [(i, k) not in skip for k in range(count)]
    v["boxes"][i, count] = [0, 0, SIDE, SIDE]  # invalid: must be dropped
    v["scores"][i, count] = 0.99
  v["boxes"][PADDING_ROW, 0] = [1, 2, 3, 4]
  v["scores"][PADDING_ROW, 0] = 1.0
  v["valid"][PADDING_ROW, 0] = True
  return {k: jnp.asarray(a) for k, a in v.items()}


@pytest.fixture(scope="module")
def evaluator():
  return DetectionEvaluator(fake_apply, fake_batches, SPLIT, mesh=parallel.make_mesh())


def test_detections_are_mapped_back_by_scale_and_padding_is_dropped(evaluator):
  found = evaluator.detections(perfect_detections())
  assert len(found) == len(SPLIT.records)
  for d, record in zip(found, SPLIT.records):
    np.testing.assert_allclose(d["boxes"], record["boxes"], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(d["labels"], record["labels"])
    assert d["boxes"].dtype == np.float32 and d["labels"].dtype == np.int32
  # Example 0 again, as the padding example, would have added the wrong box [1, 2, 3, 4].
  assert len(found[0]["scores"]) == 2


def test_boxes_are_clipped_to_the_original_image(evaluator):
  variables = dict(perfect_detections())
  variables["boxes"] = variables["boxes"].at[0, 0].set(jnp.array([-10.0, -5.0, 500.0, 60.0]))
  box = evaluator.detections(variables)[0]["boxes"][0]
  np.testing.assert_allclose(box, [0.0, 0.0, 60.0, 60.0 / SCALES[0]], rtol=1e-6)


def test_the_ground_truth_as_detections_scores_one(evaluator):
  metrics = evaluator.run(perfect_detections())
  for key in ("map50", "map50_11pt", "coco_ap", "coco_ap50", "coco_ap75", "ap50/cat",
              "ap50/dog", "ap50/bird", "ap50_11pt/bird"):
    assert metrics[key] == pytest.approx(1.0), key
  assert metrics["coco_ap_small"] == pytest.approx(1.0)
  assert metrics["coco_ap_large"] == -1.0  # no box of 96² pixels or more
  assert "ap50/fish" not in metrics  # no fish in the split: no NaN in the metrics log
  assert metrics["num_images"] == 5


def test_a_missed_box_costs_its_share_of_recall(evaluator):
  # Dog has 3 boxes; missing image 2's leaves recall 2/3 at precision 1.
  metrics = evaluator.run(perfect_detections(skip={(2, 0)}))
  assert metrics["ap50/dog"] == pytest.approx(2 / 3)
  assert metrics["ap50_11pt/dog"] == pytest.approx(7 / 11)  # thresholds 0, 0.1, ..., 0.6
  assert metrics["ap50/cat"] == pytest.approx(1.0)
  assert metrics["map50"] == pytest.approx((1 + 2 / 3 + 1) / 3)


def test_batches_that_miss_images_are_an_error():
  short = lambda: (b for k, b in enumerate(fake_batches()) if k < 2)
  evaluator = DetectionEvaluator(fake_apply, short, SPLIT, mesh=parallel.make_mesh())
  with pytest.raises(ValueError, match="left out 1 of the 5 images .*index 4"):
    evaluator.detections(perfect_detections())
