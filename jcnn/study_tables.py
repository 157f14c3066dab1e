"""Study results from run folders: one row per run, one row per variant as mean ± std (n).

Numbers come from each run's metrics log, which the trainer writes at every checkpoint
(the "eval" records are the test split's: what `python -m eval --workdir RUN` reports
at the final checkpoint). Standard deviations use n − 1; the interval of a variant's
difference to the baseline is Welch's 95 % t-interval.
"""
import dataclasses
import math
import pathlib
from typing import Callable, Sequence

import numpy as np
from scipy import stats

from jcnn import runs

EVAL_SPLIT = "eval"
TRAIN_SPLIT = "train"


@dataclasses.dataclass
class RunResult:
  """What one finished run measured."""
  variant: str
  seed: int
  workdir: str
  step: int
  top1: float                 # final checkpoint's test top-1
  best_top1: float            # the best checkpoint's
  loss: float
  train_top1: float | None    # the last training window's
  img_per_s: float | None
  steps_to_target: int | None
  curve: list                 # (step, test top-1) of every evaluation

  @property
  def gap(self) -> float | None:
    return None if self.train_top1 is None else self.train_top1 - self.top1


def read_run(run: runs.Run, variant: str, target: float | None = None,
             evaluate: Callable[[runs.Run], dict] | None = None) -> RunResult:
  """The results of a finished run. Where its log holds no evaluation of the latest
  checkpoint, `evaluate(run)` (e.g. `eval.score.score`) computes it from the checkpoint;
  without it that is a ValueError."""
  evals = [r for r in run.records(EVAL_SPLIT) if r.get("top1") is not None]
  steps = run.steps()
  final = [r for r in evals if steps and r["step"] == steps[-1]]
  if not final:
    if evaluate is None:
      raise ValueError(f"{run.workdir} logged no evaluation of its latest checkpoint")
    final = [evaluate(run)]
    evals = [r for r in evals if r["step"] < final[0]["step"]] + final
  last = final[-1]
  train = [r for r in run.records(TRAIN_SPLIT) if r.get("top1") is not None]
  speeds = [r["img_per_s"] for r in train if r.get("img_per_s")]
  reached = [r["step"] for r in evals if target is not None and r["top1"] >= target]
  return RunResult(variant, int(run.config.seed), str(run.workdir), int(last["step"]),
                   float(last["top1"]), max(float(r["top1"]) for r in evals),
                   float(last["loss"]), float(train[-1]["top1"]) if train else None,
                   float(np.median(speeds)) if speeds else None,
                   reached[0] if reached else None,
                   [(int(r["step"]), float(r["top1"])) for r in evals])


def summary(values: Sequence[float]) -> tuple[float, float | None, int]:
  """(mean, sample std with n − 1 or None for one value, n)."""
  values = np.asarray([v for v in values if v is not None], np.float64)
  if not len(values):
    return math.nan, None, 0
  std = float(np.std(values, ddof=1)) if len(values) > 1 else None
  return float(np.mean(values)), std, len(values)


def difference_interval(a: Sequence[float], b: Sequence[float],
                        level: float = 0.95) -> tuple[float, float] | None:
  """Welch's interval for mean(a) − mean(b); None unless both have two values or more."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  if len(a) < 2 or len(b) < 2:
    return None
  va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
  diff = float(a.mean() - b.mean())
  se = math.sqrt(va + vb)
  if se == 0:
    return diff, diff
  df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
  half = float(stats.t.ppf(0.5 + level / 2, df)) * se
  return diff - half, diff + half


COLUMNS = (("top1", "top1"), ("best_top1", "best_top1"), ("train_top1", "train_top1"),
           ("gap", "gap"), ("loss", "loss"), ("steps_to_target", "steps_to_target"),
           ("img_per_s", "img_per_s"))


def variant_rows(results: Sequence[RunResult], variants: Sequence[str],
                 baseline: str | None) -> list[dict]:
  """One row per variant (in `variants` order): mean/std/n of each column, the runs,
  and the interval of the top-1 difference to `baseline`."""
  by_variant = {v: [r for r in results if r.variant == v] for v in variants}
  base = [r.top1 for r in by_variant.get(baseline, [])]
  rows = []
  for variant, group in by_variant.items():
    if not group:
      continue
    row = {"variant": variant, "n": len(group), "runs": [r.workdir for r in group],
           "seeds": [r.seed for r in group]}
    for key, attr in COLUMNS:
      mean, std, n = summary([getattr(r, attr) for r in group])
      row[f"{key}_mean"], row[f"{key}_std"] = (None if n == 0 else mean), std
    interval = (None if variant == baseline or baseline is None
                else difference_interval([r.top1 for r in group], base))
    row["diff_to_baseline"] = (None if baseline is None or not base
                               else row["top1_mean"] - float(np.mean(base)))
    row["diff_ci95"] = None if interval is None else list(interval)
    rows.append(row)
  return rows


def _pm(mean, std, n, percent=True) -> str:
  if mean is None:
    return "–"
  scale = 100 if percent else 1
  text = f"{scale * mean:.2f}" if percent else f"{mean:.4g}"
  if std is not None:
    text += f" ± {scale * std:.2f}" if percent else f" ± {std:.2g}"
  return f"{text} ({n})"


HEADER = ("variant", "test top-1 %", "best top-1 %", "train top-1 %", "gap %", "loss",
          "steps to target", "img/s", "Δ top-1 vs baseline (95 % CI)")


def table_cells(row: dict) -> list[str]:
  n = row["n"]
  ci = row["diff_ci95"]
  diff = row["diff_to_baseline"]
  delta = ("baseline" if diff is not None and ci is None and abs(diff) < 1e-12
           else "–" if diff is None else
           f"{100 * diff:+.2f}" + ("" if ci is None else
                                   f" [{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}]"))
  return [row["variant"], _pm(row["top1_mean"], row["top1_std"], n),
          _pm(row["best_top1_mean"], row["best_top1_std"], n),
          _pm(row["train_top1_mean"], row["train_top1_std"], n),
          _pm(row["gap_mean"], row["gap_std"], n),
          _pm(row["loss_mean"], row["loss_std"], n, percent=False),
          _pm(row["steps_to_target_mean"], row["steps_to_target_std"], n, percent=False),
          _pm(row["img_per_s_mean"], row["img_per_s_std"], n, percent=False), delta]


def markdown(rows: list[dict]) -> str:
  lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
  lines += ["| " + " | ".join(table_cells(r)) + " |" for r in rows]
  return "\n".join(lines)


def latex(rows: list[dict]) -> str:
  escape = lambda s: s.replace("%", r"\%").replace("_", r"\_").replace("±", r"$\pm$") \
                      .replace("Δ", r"$\Delta$")
  lines = [r"\begin{tabular}{l" + "r" * (len(HEADER) - 1) + "}", r"\toprule",
           " & ".join(escape(h) for h in HEADER) + r" \\", r"\midrule"]
  lines += [" & ".join(escape(c) for c in table_cells(r)) + r" \\" for r in rows]
  lines += [r"\bottomrule", r"\end{tabular}"]
  return "\n".join(lines)


def csv_text(rows: list[dict]) -> str:
  import csv
  import io
  keys = ["variant", "n"] + [f"{k}_{s}" for k, _ in COLUMNS for s in ("mean", "std")] + [
      "diff_to_baseline", "diff_ci95_low", "diff_ci95_high"]
  out = io.StringIO()
  writer = csv.writer(out)
  writer.writerow(keys)
  for r in rows:
    ci = r["diff_ci95"] or [None, None]
    values = {**r, "diff_ci95_low": ci[0], "diff_ci95_high": ci[1]}
    writer.writerow(["" if values[k] is None else values[k] for k in keys])
  return out.getvalue()


def plot(results: Sequence[RunResult], rows: list[dict], folder: pathlib.Path) -> list[str]:
  """Learning curves (mean ± std band per variant) and a bar chart with error bars."""
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt
  folder.mkdir(parents=True, exist_ok=True)
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for row in rows:
    curves = [dict(r.curve) for r in results if r.variant == row["variant"]]
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    values = np.array([[c[s] for s in steps] for c in curves]) * 100
    mean = values.mean(axis=0)
    line, = ax.plot(steps, mean, marker=".", label=f"{row['variant']} (n={len(curves)})")
    if len(curves) > 1:
      std = values.std(axis=0, ddof=1)
      ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
  ax.set_xlabel("step"), ax.set_ylabel("test top-1 %"), ax.legend()
  ax.set_title("test top-1 at each checkpoint: mean ± std over seeds")
  curves_path = folder / "curves.png"
  fig.savefig(curves_path, dpi=100, bbox_inches="tight")
  plt.close(fig)
  fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(rows)), 4))
  means = [100 * r["top1_mean"] for r in rows]
  errors = [0 if r["top1_std"] is None else 100 * r["top1_std"] for r in rows]
  ax.bar([r["variant"] for r in rows], means, yerr=errors, capsize=6, color="tab:blue")
  ax.set_ylim(max(0, min(means) - 3 * max(errors + [1])), min(100, max(means) + 2 * max(errors + [1])))
  ax.set_ylabel("final test top-1 % (mean ± std)")
  bars_path = folder / "top1.png"
  fig.savefig(bars_path, dpi=100, bbox_inches="tight")
  plt.close(fig)
  return [str(curves_path), str(bars_path)]
