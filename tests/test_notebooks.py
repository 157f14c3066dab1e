"""Every notebook in colabs/ runs top to bottom on a CPU (shortened by its parameters)."""
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

from tests import pretrained_sources
from tests.helpers import REPO

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
    "pretrained.ipynb": ('WEIGHTS = "random"\nWORKDIR = "{tmp}/pretrained"\n'
                         'DECONV_LAYERS = ("stage3",)'),
}
# Notebooks that need an extra: skipped without it, as its own tests are (failed with CI set).
REQUIRES = {"pretrained.ipynb": pretrained_sources.require_torch}


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "colabs").glob("*.ipynb")))
def test_notebook_runs(name, tmp_path):
  REQUIRES.get(name, lambda: None)()
  notebook = nbformat.read(REPO / "colabs" / name, as_version=4)
  parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
  assert len(parameters) == 1, "each notebook has one cell tagged 'parameters'"
  parameters[0].source += "\n" + SHORT.get(name, "").format(tmp=tmp_path)
  client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                          resources={"metadata": {"path": str(REPO)}})
  client.execute()
  images = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})]
  assert images, "the notebook draws its plots"
