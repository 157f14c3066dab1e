"""Whether the GPU scripts' rows can run here: checked in seconds, before any row starts.

    python benchmarks/gpu_check.py            # after the setup of benchmarks/gpu_env.sh
    python benchmarks/gpu_check.py --dry-run  # the rows will run on the CPU

1. Every module the rows import is importable; else one line naming the pip package missing.
2. JAX sees a GPU (not with --dry-run); else one line naming the devices it sees.
3. jax is within jcnn's range (pyproject.toml); else a warning, as where a machine that
   reaches no package registry runs its own jax (JCNN_WHEELS in gpu_env.sh).
Prints the versions and the device to stderr, then two lines to stdout for the script: the
device's name (`jax.devices()[0].device_kind`) and its results file's slug
(benchmarks/gpu_peaks.py). Exits 1 after the one line when a check fails.
"""
import argparse
import importlib
import importlib.metadata
import pathlib
import re
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# What the rows run: their modules import the rest of jcnn's dependencies.
ROW_MODULES = ("benchmarks.train_step", "benchmarks.faster_rcnn", "train.__main__",
               "jcnn.detection.evaluation")
# pip's name for the modules whose import name differs.
PIP_NAMES = {"sklearn": "scikit-learn", "skimage": "scikit-image", "PIL": "pillow",
             "orbax": "orbax-checkpoint", "yaml": "pyyaml", "absl": "absl-py"}


def _missing_module() -> str | None:
  """One line naming the first module the rows need that does not import, or None."""
  for module in ROW_MODULES:
    try:
      importlib.import_module(module)
    except ModuleNotFoundError as e:
      top = (e.name or "?").split(".")[0]
      return (f"{module} needs {top!r}, which is not installed: pip install "
              f"{PIP_NAMES.get(top, top)} (offline: its wheel in $JCNN_WHEELS)")
  return None


def _jax_pin_warning() -> str | None:
  """A warning when the installed jax is outside pyproject.toml's range, else None."""
  from packaging.specifiers import SpecifierSet
  # The dependency line "jax>=...,<..." (Python 3.10 has no tomllib).
  pin = SpecifierSet(re.search(r'^\s*"jax([<>=!~][^"]*)"', (REPO / "pyproject.toml").read_text(),
                               re.M).group(1))
  version = importlib.metadata.version("jax")
  if pin.contains(version, prereleases=True):
    return None
  return (f"jax {version} is outside jcnn's range {pin} (this machine's own jax): its "
          f"rows measure that version")


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--dry-run", action="store_true", help="the rows run on the CPU")
  args = p.parse_args(argv)
  script = pathlib.Path(sys.argv[0]).name
  problem = _missing_module()
  if problem:
    print(f"{script}: {problem}", file=sys.stderr)
    return 1
  import jax
  devices = jax.devices()
  gpus = [d for d in devices if d.platform == "gpu"]
  if not gpus and not args.dry_run:
    print(f"{script}: JAX sees no GPU (devices: {devices}; jax {jax.__version__}, "
          f"plugins: {_cuda_plugins() or 'none'})", file=sys.stderr)
    return 1
  warning = _jax_pin_warning()
  if warning:
    print(f"# warning: {warning}", file=sys.stderr)
  device = (gpus or devices)[0].device_kind
  versions = ", ".join(f"{name} {_version(name)}" for name in
                       ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "chex"))
  print(f"# {versions}; {len(gpus or devices)} x {device}", file=sys.stderr, flush=True)
  from benchmarks import gpu_peaks
  print(device)
  print(gpu_peaks.slug(device))
  return 0


def _version(package: str) -> str:
  try:
    return importlib.metadata.version(package)
  except importlib.metadata.PackageNotFoundError:
    return "missing"


def _cuda_plugins() -> str:
  """The installed JAX CUDA plugins and their versions: a mismatch with jaxlib is the
  usual reason a GPU goes unseen."""
  names = sorted({d.metadata["Name"] for d in importlib.metadata.distributions()
                  if (d.metadata["Name"] or "").startswith("jax-cuda")})
  return ", ".join(f"{n} {_version(n)}" for n in names)


if __name__ == "__main__":
  sys.exit(main())
