"""Export a classification checkpoint as StableHLO or a TensorFlow SavedModel.

The exported function takes float32 pixels in [0, 255], [batch, height, width,
channels] at the size the run's images had before padding (RGB, or 1 grayscale
channel), any batch, and returns the logits: the run's padding and normalisation are
inside it, and it holds no jcnn kernel (XLA's own convolutions only). --output is a
new folder, written beside itself and renamed when complete:

  stablehlo     model.stablehlo: jax.export.deserialize(bytes).call(pixels)
  saved_model   a SavedModel: tf.saved_model.load(DIR).signatures["serving_default"]
                (pixels=...) gives {"logits": ...}
  onnx          refused: no converter works with jax 0.10 (the error says why)

Each folder also holds export.json: the input's shape, dtype and colour, the output,
the class names and the checkpoint it came from. Detection runs are refused.

Examples:
  python -m eval export --workdir runs/lenet5_digits --format stablehlo --output exports/lenet5
  python -m eval export --workdir runs/vgg16_keras --format saved_model --output exports/vgg16
"""
import json

from eval import outputs
from jcnn import export, runs


def add_arguments(parser) -> None:
  parser.add_argument("--workdir", required=True, help="the training run's folder")
  parser.add_argument("--step", type=int, default=None,
                      help="checkpoint step to export (default: the latest)")
  parser.add_argument("--format", required=True, choices=export.FORMATS,
                      help="what to write (onnx is refused: see above)")
  parser.add_argument("--output", required=True, metavar="DIR",
                      help="the new folder to write (absent or empty)")
  parser.add_argument("--json", action="store_true", help="print exactly one JSON object")


def run(args) -> None:
  output = export.check_output(args.format, outputs.outside_run(args.output, args.workdir))
  model = export.serving(runs.Run.open(args.workdir), args.step)
  path = export.write(model, args.format, output)
  if args.json:
    print(json.dumps({"folder": str(path), "format": args.format, **model.metadata}))
    return
  shape = "×".join(map(str, model.input_shape))
  print(f"{args.workdir} step {model.metadata['step']} -> {path} ({args.format}: "
        f"float32 pixels 0-255 [batch, {shape}] {model.metadata['input']['colour']} -> "
        f"logits over {len(model.metadata['class_names'])} classes)")
