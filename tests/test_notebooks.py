"""Every notebook in colabs/ opens in Colab and needs no checkout: a badge and an install cell
naming the repository, no path into the repository; and each runs top to bottom on a CPU
from a copy outside the checkout (shortened by its parameters)."""
import ast
import os
import pathlib
import re
import shutil
import tomllib

import nbformat
import pytest
from nbclient import NotebookClient

from tests import pretrained_sources
from tests.conftest import shared_data_dir
from tests.helpers import REPO

NOTEBOOKS = sorted(p.name for p in (REPO / "colabs").glob("*.ipynb"))
# The one place the repository's address is written.
REPOSITORY = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]

# Per notebook: lines appended to its "parameters" cell to keep the run short.
SHORT = {
    "quickstart.ipynb": 'NUM_EPOCHS = 2\nWORKDIR = "{tmp}/quickstart"',
    "receptive_fields.ipynb": 'ERF_SAMPLES = 2\nCOST_MODELS = ["alexnet_1tower", "resnet18"]',
    "detection_basics.ipynb": 'STRATEGY = "fast"\nMAX_SIDE = 300',
    "faster_rcnn.ipynb": 'NUM_EPOCHS = 1\nNUM_TRAIN = 64\nWORKDIR = "{tmp}/frcnn"',
    "ablation_studies.ipynb": 'NUM_EPOCHS = 1\nWORKDIR = "{tmp}/study"',
    "zfnet_visualisation.ipynb": 'NUM_EPOCHS = 2\nUSE_CIFAR10 = False\nWORKDIR = "{tmp}/zf"',
    "rcnn_vs_sppnet.ipynb": ('RCNN_RUN = SPPNET_RUN = "{tmp}/none"\nWORKDIR = "{tmp}/runs"\n'
                             'QUICK_STEPS = 10\nQUICK_IMAGES = 24\nQUICK_TEST = 6\n'
                             'TIMED_IMAGES = 1'),
    "pretrained.ipynb": ('WEIGHTS = "{tmp}/resnet18-random.pth"\nWORKDIR = "{tmp}/pretrained"\n'
                         'DECONV_LAYERS = ("stage3",)'),
}
# Notebooks that need an extra: skipped without it, as its own tests are (failed with CI set).
REQUIRES = {"pretrained.ipynb": pretrained_sources.require_torch}


def _random_resnet18(folder: pathlib.Path) -> None:
  """torchvision's ResNet-18 with random weights and batch-norm statistics, saved by torch:
  the weight file pretrained.ipynb imports in place of the trained one (no network)."""
  torchvision = pretrained_sources.import_torchvision()
  import torch
  torch.manual_seed(0)
  net = pretrained_sources.randomize_torch(torchvision.models.resnet18(), seed=1)
  torch.save(net.state_dict(), folder / "resnet18-random.pth")


# Per notebook: writes into the run's folder the files its SHORT parameters name.
INPUTS = {"pretrained.ipynb": _random_resnet18}

# What only works in a checkout: moving about in it, or reaching into it by a path.
CHECKOUT_ONLY = re.compile(r"os\.chdir|\.\./|train/configs/|train/studies/|cwd\(\)\.parent"
                           r"|^\s*(?:from|import) tests\b", re.MULTILINE)
# The first code cell: jcnn, installed from the repository where it does not import.
INSTALL = re.compile(r'try:\n  import jcnn  # noqa: F401\nexcept ImportError:[^\n]*\n'
                     r'  %pip install --quiet "jcnn(?:\[[\w,-]+\])? @ git\+(?P<url>\S+)"')
# Run first in the kernel: it works in the notebook's folder and imports jcnn, train and
# eval as installed (an editable install is fine), never from the checkout by a path.
KERNEL_CHECK = """\
import importlib.util, os, sys
assert os.path.realpath(os.getcwd()) == os.path.realpath({tmp!r}), os.getcwd()
assert {repo!r} not in {{os.path.realpath(p or os.getcwd()) for p in sys.path}}, sys.path
missing = [m for m in ("jcnn", "train", "eval") if importlib.util.find_spec(m) is None]
assert not missing, f"{{missing}} not installed (pip install -e .); the notebook would fetch them"
"""


def _badge(name: str) -> str:
  github = REPOSITORY.removeprefix("https://github.com/")
  return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
          f"(https://colab.research.google.com/github/{github}/blob/main/colabs/{name})")


def _assigned(source: str) -> set[str]:
  return {target.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Assign)
          for target in node.targets if isinstance(target, ast.Name)}


def _parameters(notebook) -> list:
  return [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]


def _kernel_env() -> dict[str, str]:
  """This process's environment without the checkout on PYTHONPATH (pytest's `pythonpath`
  reaches only its own sys.path, but a caller may export it), with the real data when it
  is here, as the notebooks found it when they ran from the checkout."""
  env = dict(os.environ)
  kept = [p for p in env.pop("PYTHONPATH", "").split(os.pathsep)
          if p and pathlib.Path(p).resolve() != REPO]
  if kept:
    env["PYTHONPATH"] = os.pathsep.join(kept)
  if shared_data_dir() is not None:
    env.setdefault("JCNN_DATA_DIR", str(shared_data_dir()))
  return env


def test_the_repository_address_is_a_github_one():
  assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", REPOSITORY), REPOSITORY


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_opens_in_colab_and_needs_no_checkout(name):
  notebook = nbformat.read(REPO / "colabs" / name, as_version=4)
  nbformat.validate(notebook)
  first = notebook.cells[0]
  assert first.cell_type == "markdown" and first.source.startswith(_badge(name) + "\n"), (
      f"{name} starts with a markdown cell whose first line is {_badge(name)}")
  text = "\n".join(c.source for c in notebook.cells)
  badge_url = re.search(r"\((https://colab\.research\.google\.com/github/[^)]*)\)", _badge(name))[1]
  assert set(re.findall(r"https://colab\.research\.google\.com/github/[^)\s]*", text)) == {badge_url}
  assert set(re.findall(r"git\+(\S+?)\"", text)) == {REPOSITORY}

  code = [c for c in notebook.cells if c.cell_type == "code"]
  install = INSTALL.fullmatch(code[0].source)
  assert install and install["url"] == REPOSITORY, (
      f"{name}'s first code cell installs jcnn from {REPOSITORY}:\n{code[0].source}")
  for cell in code:
    found = CHECKOUT_ONLY.findall(cell.source)
    assert not found, f"{name}: {found} need a checkout, in:\n{cell.source}"

  parameters = _parameters(notebook)
  assert len(parameters) == 1 and parameters[0].cell_type == "code", (
      f"{name} has one code cell tagged 'parameters'")
  shortened = _assigned(SHORT.get(name, "").format(tmp="/tmp"))
  assert shortened <= _assigned(parameters[0].source), (
      f"SHORT sets {sorted(shortened - _assigned(parameters[0].source))}, not parameters of {name}")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, tmp_path):
  REQUIRES.get(name, lambda: None)()
  INPUTS.get(name, lambda folder: None)(tmp_path)
  shutil.copy(REPO / "colabs" / name, tmp_path / name)
  notebook = nbformat.read(tmp_path / name, as_version=4)
  parameters = _parameters(notebook)
  assert len(parameters) == 1, "each notebook has one cell tagged 'parameters'"
  parameters[0].source += "\n" + SHORT.get(name, "").format(tmp=tmp_path)
  notebook.cells.insert(0, nbformat.v4.new_code_cell(
      KERNEL_CHECK.format(tmp=str(tmp_path), repo=str(REPO))))
  client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                          resources={"metadata": {"path": str(tmp_path)}})
  client.execute(env=_kernel_env())
  images = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})]
  assert images, "the notebook draws its plots"
