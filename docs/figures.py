"""Draws the front page's picture from a trained Faster R-CNN run.

    JCNN_DATA_DIR=../shared/data python -m train --config faster_rcnn_mnist \
        --config.num_epochs=1 --workdir runs/faster_rcnn_mnist_1epoch     # ~5 min on 2 cores
    python docs/figures.py --workdir runs/faster_rcnn_mnist_1epoch        # docs/images/

Detections on the first test canvases, each box with its class and score, over the
ground truth: what the two README commands grow into.
"""
import argparse
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from jcnn import detection, runs, runtime, tasks  # noqa: E402

IMAGES = pathlib.Path(__file__).resolve().with_name("images")


def detections_figure(workdir: str, path: pathlib.Path, count: int = 8,
                      score_threshold: float = 0.5) -> None:
  """`count` test canvases with their detections, in two rows, to `path`."""
  run = runs.Run.open(workdir)
  restored = tasks.restore(run)
  task = tasks.get(run.config.task)
  test = task.load_split(run.config, "test")
  found = task.evaluator(run, restored, test).detections(restored.variables)
  names = run.dataset_info["class_names"]
  columns = (count + 1) // 2
  fig, axes = plt.subplots(2, columns, figsize=(2.4 * columns, 5))
  for i, ax in enumerate(axes.flat):
    d = found[i]
    keep = d["scores"] >= score_threshold
    ax.imshow(detection.draw_detections(test.image(i), d["boxes"][keep], d["labels"][keep],
                                        d["scores"][keep], names, ground_truth=test.records[i]))
    ax.axis("off")
  fig.tight_layout()
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=100)
  print(f"wrote {path}")


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--workdir", required=True, help="a trained Faster R-CNN run on canvases")
  p.add_argument("--output", default=str(IMAGES / "detections.png"))
  args = p.parse_args(argv)
  runtime.quiet()
  detections_figure(args.workdir, pathlib.Path(args.output))


if __name__ == "__main__":
  main()
