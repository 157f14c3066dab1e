"""Accuracy against GFLOPs of the model zoo, bubble size = parameters (Canziani et al.).

As in Canziani, Paszke & Culurciello 2016, "An Analysis of Deep Neural Network Models
for Practical Applications", Fig. 2: ImageNet top-1 accuracy against the operations of
one forward pass, the area of each bubble proportional to the parameter count. Numbers
come from the registry (jcnn.models.info: top1, macs, num_params; GFLOPs = 2 × MACs).
Only ImageNet (1000-class) models are drawn; the others, and models whose metadata
lack top-1 or MACs, are listed as skipped. --measure counts the missing MACs from each
model's jaxpr instead (jcnn.analysis.cost) and draws those models with hollow bubbles.

Example:
  python -m eval compare-models --output zoo.png
"""
import json

import numpy as np

from jcnn import models


def add_arguments(parser) -> None:
  parser.add_argument("--output", required=True, metavar="FILE.png", help="where to save the chart")
  parser.add_argument("--models", default="*", help="shell-style name filter (default: all)")
  parser.add_argument("--measure", action="store_true",
                      help="count missing MACs with jcnn.analysis instead of skipping")
  parser.add_argument("--json", action="store_true",
                      help='print one JSON object {"plotted": [...], "skipped": {...}}')


def measured_macs(name: str) -> int:
  """MACs of one forward pass at the model's input size, from its jaxpr."""
  import jax
  import jax.numpy as jnp
  from jcnn import analysis
  info, model = models.info(name), models.create(name)
  x = jax.ShapeDtypeStruct((1, *info.input_shape), jnp.float32)
  variables = models.abstract_variables(model, info.input_shape)
  report = analysis.cost(lambda v, x: model.apply(v, x, train=False), x, variables=variables,
                         compare_xla=False, backprop=False)
  return report.macs


def collect(pattern: str, measure: bool) -> tuple[list[dict], dict]:
  """(points to draw, {skipped name: why})."""
  names = models.list_models(pattern)
  if not names:
    raise ValueError(f"no registered model matches {pattern!r}")
  points, skipped = [], {}
  for name in names:
    info = models.info(name)
    if info.num_classes != 1000:
      skipped[name] = f"not an ImageNet model ({info.num_classes} classes)"
    elif info.top1 is None:
      skipped[name] = "no top1 in the registry"
    elif info.num_params is None:
      skipped[name] = "no num_params in the registry"
    elif info.macs is None and not measure:
      skipped[name] = "no macs in the registry (--measure counts them)"
    else:
      macs = info.macs if info.macs is not None else measured_macs(name)
      points.append({"name": name, "top1": info.top1, "gflops": 2 * macs / 1e9,
                     "params": info.num_params, "measured": info.macs is None,
                     "source": info.top1_source})
  return points, skipped


def draw(points: list[dict], path: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(9, 6))
  colours = plt.cm.tab20(np.linspace(0, 1, max(len(points), 1)))
  for p, c in zip(points, colours):
    area = p["params"] / 1e6 * 12  # points^2 per million parameters
    ax.scatter(p["gflops"], 100 * p["top1"], s=area, alpha=0.6,
               facecolors="none" if p["measured"] else c, edgecolors=c, linewidths=1.5)
    ax.annotate(p["name"], (p["gflops"], 100 * p["top1"]), fontsize=7, ha="center",
                va="center")
  for millions in (5, 25, 100):
    ax.scatter([], [], s=millions * 12, color="grey", alpha=0.4, label=f"{millions}M params")
  ax.set_xlabel("GFLOPs per image (2 × multiply-accumulates)")
  ax.set_ylabel("top-1 accuracy (%)")
  ax.set_title("Top-1 accuracy vs operations; bubble area ∝ parameters (Canziani et al. 2016)")
  ax.legend(loc="lower right", labelspacing=2, borderpad=1.2, frameon=False)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def run(args) -> None:
  if not args.output.lower().endswith(".png"):
    raise ValueError(f"--output must be a .png file, got {args.output!r}")
  points, skipped = collect(args.models, args.measure)
  if not points:
    raise ValueError(f"no model to draw; skipped: {skipped}")
  draw(points, args.output)
  if args.json:
    print(json.dumps({"plotted": points, "skipped": skipped, "output": args.output}))
    return
  print(f"drew {len(points)} models to {args.output}: {', '.join(p['name'] for p in points)}")
  for name, why in skipped.items():
    print(f"skipped {name}: {why}")
