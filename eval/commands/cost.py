"""Parameters, multiply-accumulates, FLOPs and memory of each layer of a model.

Counted from the model's jaxpr (1 MAC = 2 FLOPs; pooling, normalisation and
activations count as FLOPs, not MACs; see jcnn.analysis.cost), with XLA's own
FLOP count and memory sizes of the compiled forward pass beside them (skip with
--no_xla). --fit GIB adds the largest training batch that fits in that much memory
for SGD, momentum and Adam (jcnn.analysis.memory).

Examples:
  python -m eval cost --model resnet50
  python -m eval cost --model vgg16 --batch 32 --json
  python -m eval cost --workdir runs/lenet5_digits --fit 1
"""
import json

from jcnn import analysis
from eval.commands import rf


def add_arguments(parser) -> None:
  rf.add_model_arguments(parser)
  parser.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
  parser.add_argument("--no_xla", action="store_true",
                      help="skip compiling the forward pass for XLA's figures")
  parser.add_argument("--fit", type=float, default=None, metavar="GIB",
                      help="also report the largest training batch that fits in GIB GiB")
  parser.add_argument("--json", action="store_true",
                      help='print exactly one JSON object {"layers": [...], "total": {...}}')


def run(args) -> None:
  if args.batch < 1:
    raise ValueError(f"--batch must be positive, got {args.batch}")
  if args.fit is not None and args.fit <= 0:
    raise ValueError(f"--fit must be positive, got {args.fit}")
  fn, variables, x, _ = rf.load(args)
  report = analysis.cost(fn, x, variables=variables, batch_size=args.batch,
                         compare_xla=not args.no_xla)
  result = report.as_dict()
  if args.fit is not None:
    result["total"]["max_batch"] = {
        opt: analysis.max_batch(fn, x, args.fit * 2**30, opt, variables=variables)
        for opt in analysis.OPTIMIZER_COPIES}
  if args.json:
    print(json.dumps(result))
    return
  print(report)
  if args.fit is not None:
    fits = ", ".join(f"{opt} {b}" for opt, b in result["total"]["max_batch"].items())
    print(f"largest training batch in {args.fit:g} GiB: {fits}")
