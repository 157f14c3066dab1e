"""Streamed photos (jcnn.data.streaming) on the real-photo set built from ../shared/data
(tests/photo_set.py): the batches a run sees are the same whatever the workers, the
start batch or the process's rows; evaluation's are torchvision's resize and centre crop;
a bad photo stops with its name or is skipped with a warning."""
import shutil

import numpy as np
import pytest

from jcnn.data import photos, streaming, transforms
from jcnn.data.pipeline import normaliser
from tests import photo_set


@pytest.fixture(scope="module")
def photo_folder(shared_data, tmp_path_factory):
  return photo_set.build_photo_set(tmp_path_factory.mktemp("photos") / "set", shared_data,
                                   per_class_limit=20)


def _split(folder, split="train", **fields):
  return streaming.PhotoSplit(photos.index_photos(folder, split), 32,
                              **{"flip": True, "lighting": 0.1, **fields})


def _epoch(split, **kwargs):
  return list(streaming.batches(split, 8, **{"train": True, "seed": 3, "epoch": 1, **kwargs}))


def _assert_same(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    assert x.keys() == y.keys()
    for key in x:
      np.testing.assert_array_equal(x[key], y[key], err_msg=key)


def test_worker_processes_give_the_batches_of_one_process(photo_folder):
  split = _split(photo_folder)
  alone = _epoch(split)
  assert len(alone) == len(split) // 8
  assert alone[0]["image"].shape == (8, 32, 32, 3) and alone[0]["image"].dtype == np.float32
  _assert_same(_epoch(split, workers=2), alone)


def test_a_resumed_epoch_and_a_process_s_rows_are_the_whole_epoch_s(photo_folder):
  split = _split(photo_folder, recipe="vgg_jitter")
  whole = _epoch(split)
  _assert_same(_epoch(split, start_batch=3), whole[3:])
  halves = [_epoch(split, rows=rows) for rows in (slice(0, 4), slice(4, 8))]
  joined = [{k: np.concatenate([a[k], b[k]]) for k in a} for a, b in zip(*halves)]
  _assert_same(joined, whole)
  other_epoch = _epoch(split, epoch=2)
  assert not np.array_equal(other_epoch[0]["image"], whole[0]["image"])


def test_evaluation_is_every_photo_once_resized_and_centre_cropped(photo_folder):
  split = _split(photo_folder, "test")
  batches = list(streaming.batches(split, 8, train=False))
  masks = np.concatenate([b["mask"] for b in batches])
  assert masks.sum() == len(split) and len(masks) == -(-len(split) // 8) * 8
  first = transforms.eval_example(split.index.read(0), size=32)  # resize 37, crop 32
  normalise = normaliser((32, 32, 3), None, None)
  np.testing.assert_array_equal(batches[0]["image"][0], normalise(first[None])[0])
  np.testing.assert_array_equal(np.concatenate([b["label"] for b in batches])[:len(split)],
                                split.index.labels)


def test_a_bad_photo_stops_the_epoch_naming_it_or_is_skipped_with_a_warning(photo_folder,
                                                                           tmp_path):
  folder = tmp_path / "set"
  shutil.copytree(photo_folder, folder)
  bad = photo_set.write_bad_files(folder / "train" / "bowl")
  unreadable = [p for p in bad.values() if not _decodes(p)]
  assert unreadable, bad
  with pytest.raises(ValueError, match=r"cannot read image .*(" +
                     "|".join(p.name for p in unreadable) + ")"):
    _epoch(_split(folder), seed=0)
  with pytest.warns(UserWarning) as warned:
    skipped = _epoch(_split(folder, bad_files="skip"), seed=0)
  named = {p.name for p in unreadable if any(p.name in str(w.message) for w in warned)}
  assert named == {p.name for p in unreadable}
  assert all(b["mask"].all() and b["image"].shape == (8, 32, 32, 3) for b in skipped)


def _decodes(path) -> bool:
  try:
    transforms.eval_example(path.read_bytes(), size=32)
  except ValueError:
    return False
  return True


def test_training_pixels_cross_as_uint8_and_the_step_normalises_them_as_the_host_would(
    photo_folder):
  from jcnn.tasks import classification
  split = _split(photo_folder)
  info = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
  raw = _epoch(split, normalise=False)
  host = _epoch(split, mean=info["mean"], std=info["std"])
  assert raw[0]["image"].dtype == np.uint8 and raw[0]["image"].nbytes * 4 == host[0]["image"].nbytes
  on_device = np.asarray(classification.normalise_on_device(raw[0]["image"], info))
  np.testing.assert_allclose(on_device, host[0]["image"], rtol=1e-6, atol=1e-6)
