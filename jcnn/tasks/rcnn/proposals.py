"""Stage 1: selective search on every image of a split, cached in the run folder
(<workdir>/proposals/<split>.npz, resumed image by image, or copied from
`config.proposals_from`), and their recall at IoU 0.5 (<workdir>/proposals/recall.json)."""
import os
import pathlib
import shutil

from jcnn import parallel, runs
from jcnn.detection import data as det_data
from jcnn.detection import proposal_cache


def proposals(config, workdir, split: det_data.DetectionSplit,
              compute: bool = True) -> proposal_cache.ProposalCache:
  """Stage 1 for `split`: its proposals, from <workdir>/proposals/<split>.npz (copied
  from `config.proposals_from`'s, or computed there first when `compute`)."""
  path = pathlib.Path(workdir) / runs.PROPOSALS_DIR / f"{split.split}.npz"
  source = pathlib.Path(config.proposals_from or workdir) / runs.PROPOSALS_DIR / path.name
  copied = not path.exists() and source.exists() and source != path
  if copied:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path.with_name(path.name + ".copy"))
    os.replace(path.with_name(path.name + ".copy"), path)
  if not compute and not path.exists():
    raise FileNotFoundError(path)
  try:
    return proposal_cache.compute(split, path, config.search.to_dict(), config.max_proposals)
  except ValueError as e:
    if not copied:
      raise
    path.unlink()  # the copy is checked like any cache: other data or settings are refused
    raise ValueError(f"config.proposals_from={config.proposals_from!r}: {e}") from None


def save_recall(config, run: runs.Run, *splits: det_data.DetectionSplit) -> None:
  """Writes the proposals' count and recall at IoU 0.5 per split (once, by the primary
  process) and prints them."""
  path = run.workdir / runs.PROPOSALS_DIR / "recall.json"
  if path.exists() or not parallel.is_primary():
    return
  summary = {}
  for split in splits:
    cache = proposals(config, run.workdir, split)
    summary[split.split] = {
        "images": len(split), "proposals_per_image": len(cache.boxes) / max(1, len(split)),
        "recall_iou50": proposal_cache.recall(cache, split, 0.5)}
  runs.save_json(path, summary)
  print("proposals: " + "; ".join(
      f"{s} {v['proposals_per_image']:.0f} per image, recall {v['recall_iou50']:.3f} at "
      f"IoU 0.5" for s, v in summary.items()))
