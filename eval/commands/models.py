"""List the model registry as a table: name, input size, parameters, GMACs, top-1, paper."""
import json

from jcnn import models


def add_arguments(parser) -> None:
  parser.add_argument("pattern", nargs="?", default="*",
                      help="shell-style name filter, e.g. 'resnet*' (default: all)")
  parser.add_argument("--json", action="store_true", help="print exactly one JSON object")


def count_params(name: str) -> int:
  """Parameters of the registered model at its default input, with no compute."""
  variables = models.abstract_variables(models.create(name), models.info(name).input_shape)
  return models.num_params(variables["params"])


def rows(pattern: str = "*") -> list[dict]:
  """One dict per registered model matching `pattern`."""
  names = models.list_models(pattern)
  if not names:
    raise ValueError(f"no registered model matches {pattern!r}; "
                     f"known: {', '.join(models.list_models())}")
  table = []
  for name in names:
    info = models.info(name)
    table.append({
        "name": name, "input": "×".join(map(str, info.input_shape)),
        "params": info.num_params if info.num_params is not None else count_params(name),
        "gmacs": None if info.macs is None else info.macs / 1e9,
        "top1": info.top1, "paper": info.paper})
  return table


def run(args) -> None:
  table = rows(args.pattern)
  if args.json:
    print(json.dumps({"models": table}))
    return
  print(f"{'name':<22} {'input':<11} {'params':>13} {'GMACs':>7} {'top-1':>6}  paper")
  for r in table:
    gmacs = "" if r["gmacs"] is None else f"{r['gmacs']:.2f}"
    top1 = "" if r["top1"] is None else f"{100 * r['top1']:.1f}"
    print(f"{r['name']:<22} {r['input']:<11} {r['params']:>13,} {gmacs:>7} {top1:>6}  {r['paper']}")
