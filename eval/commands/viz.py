"""See what a trained classifier learned (Zeiler & Fergus 2014), as PNGs.

KIND is one of:
  filters     the first convolution's kernels (with --layer: the last one feeding it)
  deconv      deconvnet projections of each layer's strongest feature maps, per image,
              and each layer's feature maps as a grid
  top9        each channel's 9 strongest hits over --num_images: projections | patches
  occlusion   a grey square slid over each image: feature, true-class and top-class maps
  evolution   the strongest hit of some channels at every checkpoint of the run
  invariance  feature distances and p(true class) under shift, scale and rotation
  saliency    |gradient|, guided backpropagation and deconvnet of the class score

Images are --num_images of --split spread over it (or from --index on), or --images FILE...
(resized to the training size, with a note). Layers are the names the model records
(`python -m eval models` / jcnn.models.feature_info). Files go to --output (default
./viz), never into the run folder.

Examples:
  python -m eval viz --workdir runs/small_vgg_cifar10 top9 --layer relu3
  python -m eval viz --workdir runs/small_vgg_cifar10 occlusion --index 7 --json
"""
import json
import sys

from eval import outputs, score, viz_inputs, viz_kinds
from jcnn import tasks, viz

# Images each kind looks at by default (ZF: 5 images for invariance).
DEFAULT_IMAGES = {"top9": 2000, "evolution": 500, "invariance": 5, "filters": 1}


def _channel_list(text: str) -> list[int]:
  try:
    return [int(c) for c in text.split(",") if c.strip()]
  except ValueError:
    raise ValueError(f"--channels takes comma-separated integers, got {text!r}") from None


def add_arguments(parser) -> None:
  parser.add_argument("kind", choices=sorted(viz_kinds.KINDS), metavar="KIND",
                      help="what to draw: " + ", ".join(viz_kinds.KINDS))
  parser.add_argument("--workdir", required=True, help="the training run's folder")
  parser.add_argument("--step", type=int, default=None,
                      help="checkpoint step (default: the latest; evolution uses all)")
  parser.add_argument("--layer", default=None, help="a recorded feature map, e.g. relu3")
  parser.add_argument("--images", nargs="+", default=None, metavar="FILE",
                      help="image files instead of the split's images")
  parser.add_argument("--split", default="test", help="dataset split (default: test)")
  parser.add_argument("--index", type=int, default=None,
                      help="first image of the split (default: images spread evenly over "
                      "it, starting with image 0)")
  parser.add_argument("--num_images", type=int, default=None,
                      help="images looked at (default: top9 2000, evolution 500, "
                      "invariance 5, others 1)")
  parser.add_argument("--channels", default=None,
                      help="top9/evolution: comma-separated channels (default: the first "
                      "16 / 4)")
  parser.add_argument("--rule", choices=viz.RULES, default="deconvnet",
                      help="backward rule of projections (default: deconvnet)")
  parser.add_argument("--top", type=int, default=8, help="deconv: feature maps per layer")
  parser.add_argument("--k", type=int, default=9, help="top9: hits per channel")
  parser.add_argument("--size", type=int, default=None,
                      help="occlusion: the square's side (default: a quarter of the image)")
  parser.add_argument("--stride", type=int, default=2, help="occlusion: the square's step")
  parser.add_argument("--output", default="viz", help="folder for the PNGs (default: ./viz)")
  parser.add_argument("--json", action="store_true",
                      help="print exactly one JSON object: the numbers and the files")


def run(args) -> None:
  output = outputs.outside_run(args.output, args.workdir)
  run_ = score.open_run(args.workdir, "classification", "viz")
  args.channels = _channel_list(args.channels) if args.channels else None
  count = args.num_images or DEFAULT_IMAGES.get(args.kind, 1)
  if count < 1:
    raise ValueError(f"--num_images must be >= 1, got {count}")
  restored = tasks.restore(run_, args.step)
  inputs = (viz_inputs.from_files(run_, args.images) if args.images
            else viz_inputs.from_split(run_, args.split, count, args.index))
  for note in inputs.notes:
    print(f"note: {note}", file=sys.stderr)
  subject = viz_kinds.Subject(run_, restored, inputs, output)
  result = {"kind": args.kind, "step": restored.step, **viz_kinds.KINDS[args.kind](subject, args)}
  if args.kind == "deconv" and not result["switches"]:
    print("note: the model has no max pooling, so no switches: unpooling spreads the "
          "signal as its strides and averages do", file=sys.stderr)
  if args.json:
    print(json.dumps(result))
    return
  print(f"{args.kind} of {args.workdir} at step {restored.step}:")
  for key in ("layer", "kernel", "seconds", "recompute_max_error", "fields_inside_image"):
    if key in result:
      print(f"  {key.replace('_', ' ')}: {result[key]}")
  for path in result["files"]:
    print(f"  wrote {path}")
