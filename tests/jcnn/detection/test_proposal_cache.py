"""R-CNN's first stage: selective search over a split, cached, resumed, and refused when
it was computed from something else."""
import dataclasses

import numpy as np
import pytest

from jcnn.detection import data as det_data
from jcnn.detection import proposal_cache, proposals


@pytest.fixture(scope="module")
def split():
  return det_data.load("digits_detection", "test").subset(4)


def _counting(monkeypatch, fail_at=None):
  calls = []
  real = proposals.selective_search

  def search(image, **kwargs):
    if len(calls) == fail_at:
      raise KeyboardInterrupt
    calls.append(image.shape)
    return real(image, **kwargs)

  monkeypatch.setattr(proposal_cache, "selective_search", search)
  return calls


def test_proposals_are_computed_once_then_read_back(split, tmp_path, monkeypatch):
  calls = _counting(monkeypatch)
  path = tmp_path / "run" / "proposals.npz"
  first = proposal_cache.compute(split, path, dict(min_box_size=8), max_proposals=50)
  assert len(calls) == 4 and len(first) == 4
  assert all(0 < len(first[i]) <= 50 for i in range(4))
  again = proposal_cache.compute(split, path, dict(min_box_size=8), max_proposals=50)
  assert len(calls) == 4  # nothing recomputed
  for i in range(4):
    np.testing.assert_array_equal(again[i], first[i])


def test_a_killed_search_resumes_at_the_image_it_stopped_at(split, tmp_path, monkeypatch):
  path = tmp_path / "proposals.npz"
  _counting(monkeypatch, fail_at=3)
  with pytest.raises(KeyboardInterrupt):
    proposal_cache.compute(split, path, dict(min_box_size=8), save_every=1)
  calls = _counting(monkeypatch)
  resumed = proposal_cache.compute(split, path, dict(min_box_size=8), save_every=1)
  assert len(calls) == 1 and len(resumed) == 4
  whole = proposal_cache.compute(split, tmp_path / "whole.npz", dict(min_box_size=8))
  for i in range(4):
    np.testing.assert_array_equal(resumed[i], whole[i])


def test_a_cache_from_other_settings_or_data_is_refused(split, tmp_path):
  path = tmp_path / "proposals.npz"
  proposal_cache.compute(split, path, dict(min_box_size=8))
  with pytest.raises(ValueError, match="proposals computed from .*min_box_size.*: 8"):
    proposal_cache.compute(split, path, dict(min_box_size=12))
  other = dataclasses.replace(split, records=split.records[:3])
  with pytest.raises(ValueError, match="delete it or use another workdir"):
    proposal_cache.compute(other, path, dict(min_box_size=8))
  path.write_bytes(b"not an npz")
  with pytest.raises(ValueError, match="not a readable proposals cache"):
    proposal_cache.compute(split, path, dict(min_box_size=8))


def test_recall_counts_ground_truth_covered_at_iou_half(split):
  boxes = [np.asarray(r["boxes"], np.float32) for r in split.records]
  exact = proposal_cache.ProposalCache(np.concatenate(boxes),
                                       np.cumsum([0] + [len(b) for b in boxes]))
  assert proposal_cache.recall(exact, split) == 1.0
  # Only each image's first box: the canvases' boxes overlap pairwise by IoU <= 0.1, so
  # the first finds itself and no other.
  first = proposal_cache.ProposalCache(np.concatenate([b[:1] for b in boxes]), np.arange(5))
  assert proposal_cache.recall(first, split) == 4 / sum(len(b) for b in boxes)
  assert proposal_cache.recall(exact, split, top_k=1) == 4 / sum(len(b) for b in boxes)
  far = proposal_cache.ProposalCache(exact.boxes + 1000, exact.offsets)
  assert proposal_cache.recall(far, split) == 0.0
  with pytest.raises(ValueError, match="the cache holds 4 images, the split 3"):
    proposal_cache.recall(exact, dataclasses.replace(split, records=split.records[:3]))
