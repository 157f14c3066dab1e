"""How closely each imported network reproduces its source: for every name map in
`jcnn.pretrained.SOURCES`, the source framework's own network with random weights (and
random batch-norm statistics and biases), saved in its format, imported, and run beside
the port on the same picture; one JSON line per map with the largest relative error
(max |error| / max |value|) of the logits and of the stage maps.

  pip install -e '.[torch]'     # torchvision and timm; Keras comes with jcnn
  python benchmarks/pretrained_parity.py [--source S] [--model M] [--save]

The comparison is `tests.pretrained_sources.parity`, the one the parity tests assert
(tests/jcnn/pretrained/test_*_parity.py): it is imported from there because that module
is also the one place that lets torchvision import on a CPU torch (its docstring says
how and why), so it needs the test extra's pytest too. Files go to a temporary folder,
deleted after each map; nothing is downloaded. The figures are errors, not speeds: a busy
machine changes none of them.
"""
import argparse
import importlib.metadata
import importlib.util
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks import store  # noqa: E402
from jcnn import pretrained  # noqa: E402
from tests import pretrained_sources  # noqa: E402

# The packages that build each source's networks; their versions go on its lines.
PACKAGES = {"torchvision": ("torch", "torchvision"), "timm": ("torch", "timm"),
            "keras": ("keras", "tensorflow")}


def versions(source: str) -> dict[str, str | None]:
  """{package: installed version} of the packages that build `source`'s networks
  (TensorFlow installed as tensorflow-cpu counts)."""
  found = {}
  for package in PACKAGES[source]:
    found[package] = None
    for distribution in (package, f"{package}-cpu"):
      try:
        found[package] = importlib.metadata.version(distribution)
        break
      except importlib.metadata.PackageNotFoundError:
        pass
  return found


def measure(source: str, model: str) -> dict:
  """One map's parity, as the line `emit` stores."""
  with tempfile.TemporaryDirectory() as folder:
    result = pretrained_sources.parity(source, model, folder)
  return {"benchmark": "pretrained_parity", "source": source, "model": model,
          "source_network": pretrained.find_map(source, model).source,
          "file": result["file"], "input_side": result["input_side"],
          "num_params": result["num_params"],
          "max_rel_logit_error": result["logits"],
          "max_rel_stage_error": max(result["stages"].values()),
          "rel_errors": pretrained_sources.errors(result), **versions(source)}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--source", choices=sorted(pretrained.SOURCES), help="only this source")
  p.add_argument("--model", help="only this zoo model's maps")
  store.add_save_flag(p, "pretrained_parity.jsonl")
  args = p.parse_args(argv)
  maps = [(source, model) for source in sorted(pretrained.SOURCES)
          if args.source in (None, source)
          for model in sorted(pretrained.SOURCES[source]) if args.model in (None, model)]
  if not maps:
    p.error(f"no map of --model {args.model}" + (f" from {args.source}" if args.source else ""))
  needs_torch = {source for source, _ in maps if "torch" in PACKAGES[source]}
  if needs_torch and importlib.util.find_spec("torch") is None:
    p.error(f"{' and '.join(sorted(needs_torch))} need torch: pip install -e '.[torch]' "
            "(or --source keras)")
  store.save_to(args.save)
  for source, model in maps:
    store.emit(measure(source, model))


if __name__ == "__main__":
  main()
