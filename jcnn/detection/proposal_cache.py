"""Selective-search proposals of a whole split, computed once and kept (R-CNN's stage 1).

  cache = proposal_cache.compute(split, "run/proposals_test.npz", dict(strategy="fast"))
  boxes_of_image_7 = cache[7]                              # [N_7, 4] xyxy
  proposal_cache.recall(cache, split, iou=0.5)             # ground truth found

The file records what it was computed from (dataset, split, images, their boxes, the
selective-search settings): a file from anything else is refused, never silently used.
Progress is saved every `save_every` images (written to a temporary file, then renamed),
so a killed computation resumes where it stopped and a finished file is never half
written.
"""
import hashlib
import json
import os
import pathlib

import numpy as np
import tqdm

from jcnn.data import npz
from jcnn.detection.boxes import box_iou_host
from jcnn.detection.data.split import DetectionSplit
from jcnn.detection.proposals import selective_search

FORMAT = 1


def fingerprint(split: DetectionSplit, settings: dict) -> str:
  """What a cache was computed from, as one JSON string: the dataset, split, number of
  images, a digest of their sizes and ground-truth boxes, and the settings."""
  digest = hashlib.sha256()
  for record in split.records:
    digest.update(np.asarray([record["height"], record["width"]], np.int64).tobytes())
    digest.update(np.asarray(record["boxes"], np.float32).tobytes())
  return json.dumps(dict(format=FORMAT, dataset=split.name, split=split.split,
                         images=len(split), digest=digest.hexdigest()[:16],
                         settings=settings), sort_keys=True)


class ProposalCache:
  """Proposals per image of one split: `cache[i]` is image i's [N_i, 4] boxes."""

  def __init__(self, boxes: np.ndarray, offsets: np.ndarray):
    self.boxes, self.offsets = boxes, offsets

  def __len__(self) -> int:
    return len(self.offsets) - 1

  def __getitem__(self, i: int) -> np.ndarray:
    return self.boxes[self.offsets[i]:self.offsets[i + 1]]


def _read(path: pathlib.Path, expected: str) -> tuple[list[np.ndarray], bool]:
  """The per-image boxes stored in `path` and whether they are complete; refuses a file
  computed from something else."""
  try:
    with np.load(path, allow_pickle=False) as stored:
      found = str(stored["fingerprint"])
      boxes, offsets, complete = stored["boxes"], stored["offsets"], bool(stored["complete"])
  except npz.UNREADABLE as e:
    raise ValueError(f"{path}: not a readable proposals cache ({e}); delete it to "
                     "recompute") from None
  if found != expected:
    raise ValueError(f"{path}: proposals computed from {found}, not from {expected}; "
                     "delete it or use another workdir")
  return [boxes[a:b] for a, b in zip(offsets[:-1], offsets[1:])], complete


def _write(path: pathlib.Path, per_image: list[np.ndarray], fp: str, complete: bool) -> None:
  sizes = [len(b) for b in per_image]
  boxes = np.concatenate(per_image) if per_image else np.zeros((0, 4), np.float32)
  temporary = path.with_name(path.name + ".tmp.npz")
  np.savez(temporary, boxes=boxes.astype(np.float32),
           offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
           fingerprint=np.asarray(fp), complete=np.asarray(complete))
  os.replace(temporary, path)


def compute(split: DetectionSplit, path: str | os.PathLike, settings: dict | None = None,
            max_proposals: int = 2000, save_every: int = 200) -> ProposalCache:
  """Selective search (`jcnn.detection.selective_search(image, **settings)`) on every
  image of `split`, the best `max_proposals` of each, stored in `path` (resumed or
  reused when it is there).

  Grey images are searched as they are; an image with no proposals keeps an empty list
  (it yields no detections).
  """
  settings = {"strategy": "fast", **(settings or {}), "max_proposals": max_proposals}
  path = pathlib.Path(path)
  fp = fingerprint(split, settings)
  per_image, complete = _read(path, fp) if path.exists() else ([], False)
  if not complete:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tqdm.tqdm(total=len(split), initial=len(per_image), unit="image",
                   desc="selective search", dynamic_ncols=True) as bar:
      for i in range(len(per_image), len(split)):
        per_image.append(search(split.image(i), settings))
        bar.update()
        if len(per_image) % save_every == 0 and len(per_image) < len(split):
          _write(path, per_image, fp, complete=False)
    _write(path, per_image, fp, complete=True)
  sizes = [len(b) for b in per_image]
  return ProposalCache(np.concatenate(per_image) if per_image else np.zeros((0, 4)),
                       np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))


def search(image: np.ndarray, settings: dict) -> np.ndarray:
  """One image's proposals [N, 4] as `compute` stores them: selective search with
  `settings` (its keyword arguments and "max_proposals"), grey images searched grey."""
  settings = dict(settings)
  max_proposals = settings.pop("max_proposals", None)
  image = image[..., 0] if image.shape[-1] == 1 else image
  return np.asarray(selective_search(image, **settings), np.float32)[:max_proposals].reshape(-1, 4)


def recall(cache: ProposalCache, split: DetectionSplit, iou: float = 0.5,
           top_k: int | None = None) -> float:
  """The fraction of ground-truth boxes (not marked difficult) that some proposal (of
  each image's first `top_k`) covers with IoU >= `iou`."""
  if len(cache) != len(split):
    raise ValueError(f"the cache holds {len(cache)} images, the split {len(split)}")
  found = total = 0
  for i, record in enumerate(split.records):
    gt = np.asarray(record["boxes"], np.float32).reshape(-1, 4)
    difficult = np.asarray(record.get("difficult", np.zeros(len(gt), bool)), bool)
    gt = gt[~difficult]
    total += len(gt)
    boxes = cache[i][:top_k]
    if len(gt) and len(boxes):
      found += int((box_iou_host(gt, boxes).max(axis=1) >= iou).sum())
  return found / total if total else 0.0
