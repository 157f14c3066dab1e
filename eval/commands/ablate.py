"""Knock-out ablations of one checkpoint: parts changed, nothing retrained, one table.

Rows (each against the checkpoint as trained, its Δ top-1 beside it):
  blocks   each block whose output has its input's shape replaced by the identity, in
           turn (for a residual block this deletes its residual branch exactly; Veit et
           al. 2016: residual nets degrade gracefully, plain nets collapse)
  dropout  dropout kept on at test time: one draw, and the mean of --samples draws
  bn       batch-norm statistics recomputed on --bn_batches training batches, augmented
           as in training (fvcore's precise BN) and, where the run augments, without
  ema      the raw weights instead of their moving average (runs with ema_decay > 0)
  tta      test-time augmentation: horizontal flip; AlexNet's ten crops of the image
           padded by --pad; VGG's dense evaluation (the classifier slid over the padded
           image through jcnn.models.convolutionalize, averaged over the map and flips)
A part the model does not have is named under the table instead of a row.

Examples:
  python -m eval ablate --workdir runs/resnet20_cifar10_short
  python -m eval ablate --workdir runs/plain20 --only blocks --json
"""
import dataclasses
import json
import sys

import jax
import numpy as np

from eval import score
from jcnn import ablation, tasks
from jcnn.models import convolutionalize

GROUPS = ("blocks", "dropout", "bn", "ema", "tta")


def add_arguments(parser) -> None:
  parser.add_argument("--workdir", required=True, help="a classification run's folder")
  parser.add_argument("--step", type=int, default=None,
                      help="checkpoint step (default: the latest)")
  parser.add_argument("--split", default="test", help="dataset split (default: test)")
  parser.add_argument("--only", default=",".join(GROUPS),
                      help=f"comma-separated groups of rows (default: all of {','.join(GROUPS)})")
  parser.add_argument("--blocks", default="",
                      help="comma-separated block names to remove (default: every removable "
                           "one)")
  parser.add_argument("--samples", type=int, default=10,
                      help="dropout: draws averaged in the Monte-Carlo row (default 10)")
  parser.add_argument("--bn_batches", type=int, default=50,
                      help="bn: training batches (of the run's batch size) to recompute "
                           "the statistics on (default 50)")
  parser.add_argument("--pad", type=int, default=None,
                      help="tta: pixels of padding for the crops and the dense evaluation "
                           "(default: the run's crop_padding, else an eighth of the side)")
  parser.add_argument("--seed", type=int, default=0, help="dropout draws (default 0)")
  parser.add_argument("--json", action="store_true",
                      help="print one JSON object: step, split, rows (ablation, group, top1, "
                           "loss, delta_top1), notes")


def _groups(only: str) -> list[str]:
  groups = [g for g in only.split(",") if g]
  unknown = sorted(set(groups) - set(GROUPS))
  if unknown or not groups:
    raise ValueError(f"--only {only!r}: unknown group {', '.join(unknown) or '(none)'}; "
                     f"choose from {', '.join(GROUPS)}")
  return groups


class _Table:
  """Evaluates (name, apply, variables) rows on one split, one compile per apply."""

  def __init__(self, run, restored, split: str):
    self._run, self._restored = run, restored
    self._task = tasks.get(run.config.task)
    self._split = self._task.load_split(run.config, split)
    self.first_images = next(iter(self._task.batches(
        run.config, run.dataset_info, self._split, train=False, mesh=restored.mesh)))["image"]
    self.rows: list[dict] = []
    self.notes: list[str] = []

  def evaluator(self, apply_fn):
    """The task's evaluator of the split, calling `apply_fn` instead of the model."""
    return self._task.evaluator(self._run, dataclasses.replace(self._restored, apply=apply_fn),
                                self._split)

  def add(self, group: str, name: str, evaluator, variables) -> None:
    print(f"ablate: {name}", file=sys.stderr, flush=True)
    result = evaluator.run(variables)
    base = self.rows[0]["top1"] if self.rows else result["top1"]
    self.rows.append({"ablation": name, "group": group, "top1": result["top1"],
                      "loss": result["loss"], "delta_top1": result["top1"] - base})


def _chosen_blocks(table, restored, names: str) -> list[str]:
  """The blocks to remove: `names` (checked) or every removable one."""
  found = ablation.removable_blocks(restored.apply, restored.variables, table.first_images)
  removable = [b.name for b in found]
  chosen = [n for n in names.split(",") if n] or removable
  unknown = [n for n in chosen if n not in removable]
  if unknown:
    raise ValueError(f"--blocks: {', '.join(unknown)} cannot be removed (not a child of the "
                     f"model keeping its input's shape); removable: "
                     f"{', '.join(removable) or 'none'}")
  return chosen


def _blocks(table, restored, chosen: list[str]) -> None:
  if not chosen:
    table.notes.append("blocks: no block of this model keeps its input's shape")
    return
  evaluator = table.evaluator(ablation.knock_out(restored.apply, chosen))
  for i, name in enumerate(chosen):
    keep = np.ones(len(chosen), bool)
    keep[i] = False
    table.add("blocks", f"{name} removed", evaluator,
              {**restored.variables, ablation.KEEP: keep})


def _dropout(table, restored, samples: int, seed: int) -> None:
  key = jax.random.PRNGKey(seed)
  one = ablation.dropout_on(restored.apply, key)
  x = table.first_images
  intact = jax.jit(lambda v, x: restored.apply(v, x, train=False))(restored.variables, x)
  if np.array_equal(jax.jit(one)(restored.variables, x), intact):
    table.notes.append("dropout: the model has no dropout")
    return
  table.add("dropout", "dropout on at test time (1 draw)", table.evaluator(one),
            restored.variables)
  if samples > 1:
    table.add("dropout", f"dropout on, mean of {samples} draws",
              table.evaluator(ablation.dropout_on(restored.apply, key, samples)),
              restored.variables)


def _batch_norm(table, run, restored, batches: int, seed: int) -> None:
  if not restored.variables.get("batch_stats"):
    table.notes.append("bn: the model has no batch norm")
    return
  task = tasks.get(run.config.task)
  train = task.load_split(run.config, run.config.train_split)
  evaluator = table.evaluator(restored.apply)
  # Augmented as in training (fvcore's precise BN reads the training loader): the
  # statistics the rest of the network was trained to expect; and without, to show
  # what the augmentation does to them.
  augments = run.config.crop_padding > 0 or run.config.flip
  for augmented in (True, False) if augments else (True,):
    stream = task.batches(run.config, run.dataset_info, train, train=augmented)
    first = (b for _, b in zip(range(batches), stream))
    stats = ablation.recomputed_batch_stats(restored.apply, restored.variables, first,
                                            jax.random.PRNGKey(seed))
    how = ("" if not augments else
           " (augmented as in training)" if augmented else " (not augmented)")
    table.add("bn", f"batch-norm statistics recomputed on {batches} training batches{how}",
              evaluator, {**restored.variables, "batch_stats": stats})


def _ema(table, run, step: int) -> None:
  if not run.config.ema_decay > 0:
    table.notes.append("ema: the run kept no moving average (ema_decay 0)")
    return
  raw = tasks.restore(run, step, use_ema=False)
  table.add("ema", "raw weights instead of the EMA", table.evaluator(raw.apply),
            raw.variables)


def _tta(table, run, restored, pad: int | None) -> None:
  info = run.dataset_info
  pad = pad if pad is not None else run.config.crop_padding or max(1, info["image_shape"][0] // 8)
  fill = -np.asarray(info["mean"], np.float32) / np.asarray(info["std"], np.float32)
  table.add("tta", "horizontal flip averaged",
            table.evaluator(ablation.averaged_over(restored.apply, ablation.flips)),
            restored.variables)
  crops = lambda x: ablation.ten_crops(x, pad, fill)
  table.add("tta", f"ten crops (pad {pad}) averaged",
            table.evaluator(ablation.averaged_over(restored.apply, crops)), restored.variables)
  model, variables = restored.model, restored.variables
  if getattr(model, "fully_convolutional", None) is False:
    model, variables = convolutionalize.convolutionalize(model, variables)
  apply = tasks.apply_fn(run.config, model)
  big = lambda x: ablation.flips(ablation.padded(x, pad, fill))
  try:
    jax.eval_shape(lambda v, x: apply(v, x, train=False), variables,
                   ablation.padded(table.first_images, pad, fill))
  except ValueError as e:
    table.notes.append(f"tta: no dense evaluation ({e})")
    return
  table.add("tta", f"dense evaluation (pad {pad}, flips) averaged",
            table.evaluator(ablation.averaged_over(apply, big)), variables)


def _markdown(result: dict) -> str:
  lines = ["| ablation | top-1 % | Δ top-1 | loss |", "|---|---:|---:|---:|"]
  for i, row in enumerate(result["rows"]):
    delta = "" if i == 0 else f"{100 * row['delta_top1']:+.2f}"
    lines.append(f"| {row['ablation']} | {100 * row['top1']:.2f} | {delta} | "
                 f"{row['loss']:.4f} |")
  lines += [f"- {note}" for note in result["notes"]]
  return "\n".join([f"{result['workdir']}, step {result['step']}, split {result['split']}:",
                    *lines])


def run(args) -> None:
  groups = _groups(args.only)
  if args.samples < 1 or args.bn_batches < 1 or (args.pad is not None and args.pad < 0):
    raise ValueError("--samples and --bn_batches must be >= 1, --pad >= 0")
  the_run = score.open_run(args.workdir, "classification", "ablate")
  restored = tasks.restore(the_run, args.step)
  table = _Table(the_run, restored, args.split)
  chosen = _chosen_blocks(table, restored, args.blocks) if "blocks" in groups else []
  weights = "EMA weights" if the_run.config.ema_decay > 0 else "weights"
  table.add("none", f"none (the checkpoint's {weights})", table.evaluator(restored.apply),
            restored.variables)
  if "blocks" in groups:
    _blocks(table, restored, chosen)
  if "dropout" in groups:
    _dropout(table, restored, args.samples, args.seed)
  if "bn" in groups:
    _batch_norm(table, the_run, restored, args.bn_batches, args.seed)
  if "ema" in groups:
    _ema(table, the_run, restored.step)
  if "tta" in groups:
    _tta(table, the_run, restored, args.pad)
  result = {"workdir": str(args.workdir), "step": restored.step, "split": args.split,
            "rows": table.rows, "notes": table.notes}
  print(json.dumps(result) if args.json else _markdown(result))
