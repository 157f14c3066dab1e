"""`python -m eval import-weights`: a torchvision file becomes a run that `predict` reads
as any run, giving torchvision's own probabilities with ImageNet's names; bad input is
one line and writes nothing."""
import json
import pickle
import zipfile

import numpy as np
import pytest
import skimage.data
from PIL import Image

from eval import classify_files
from jcnn import runs
from jcnn.data import imagenet
from jcnn.data.stats import IMAGENET_MEAN, IMAGENET_STD
from tests import pretrained_sources
from tests.helpers import eval_error, eval_json


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
  """(torchvision's resnet18 with random weights and statistics, its .pth file)."""
  torchvision = pretrained_sources.import_torchvision()
  import torch
  torch.manual_seed(0)
  net = pretrained_sources.randomize_torch(torchvision.models.resnet18(), seed=1)
  path = tmp_path_factory.mktemp("weights") / "resnet18-random.pth"
  torch.save(net.state_dict(), path)
  return net, path


def test_an_imported_run_predicts_as_torchvision_does_with_imagenet_names(
    resnet18, tmp_path, capsys):
  net, weights = resnet18
  workdir = tmp_path / "resnet18_torchvision"
  made = eval_json(capsys, "import-weights", "--source", "torchvision", "--file",
                   str(weights), "--model", "resnet18", "--workdir", str(workdir), "--json")
  assert made == {"workdir": str(workdir), "source": "torchvision resnet18",
                  "model": "resnet18", "num_params": 11_689_512}
  run = runs.Run.open(workdir)
  assert run.steps() == [0]
  assert run.dataset_info["class_names"][:2] == ["tench", "goldfish"]
  assert run.dataset_info["wordnet_ids"][0] == "n01440764"
  photo = tmp_path / "chelsea.png"
  Image.fromarray(skimage.data.chelsea()).save(photo)

  [predicted] = eval_json(capsys, "predict", "--workdir", str(workdir), "--json",
                          str(photo))["predictions"]

  # torchvision on the same pixels: resized as predict resizes, normalised with
  # ImageNet's statistics, NCHW.
  import torch
  pixels = classify_files.read_images([str(photo)], (224, 224), 3) / np.float32(255)
  x = (pixels - np.float32(IMAGENET_MEAN)) / np.float32(IMAGENET_STD)
  with torch.no_grad():
    logits = net(torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32)))
  probs = torch.softmax(logits, -1).numpy()[0]
  top = np.argsort(-probs)[:5]
  assert [t["label"] for t in predicted["top"]] == top.tolist()
  assert [t["class"] for t in predicted["top"]] == [imagenet.class_names()[i] for i in top]
  np.testing.assert_allclose([t["prob"] for t in predicted["top"]], probs[top], rtol=1e-4)


def _evil_pth(path):
  """A torch.save-shaped archive whose pickle would run `echo` when torch.load-ed."""

  class Evil:
    def __reduce__(self):
      import os
      return os.system, (f"touch {path.parent / 'pwned'}",)

  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("archive/data.pkl", pickle.dumps({"fc.weight": Evil()}, protocol=2))
  return path


@pytest.mark.parametrize("case", ["another network", "evil pickle", "unknown model",
                                  "not a file", "workdir exists"])
def test_bad_input_is_one_line_and_writes_nothing(case, resnet18, tmp_path, capsys):
  _, weights = resnet18
  workdir, model = tmp_path / "run", "resnet18"
  if case == "another network":
    model, expected = "resnet34", "no tensor 'layer1.2.conv1.weight', which torchvision resnet34 has"
  elif case == "evil pickle":
    weights = _evil_pth(tmp_path / "evil.pth")
    expected = "its pickle asks for posix.system; refused"
  elif case == "unknown model":
    model, expected = "resnet19", "no torchvision map for model 'resnet19'"
  elif case == "not a file":
    weights, expected = tmp_path / "missing.pth", "missing.pth is not a file"
  else:
    workdir.mkdir()
    expected = "exists; import into a new folder"
  before = sorted(p.name for p in tmp_path.iterdir())
  err = eval_error(capsys, "import-weights", "--source", "torchvision", "--file",
                   str(weights), "--model", model, "--workdir", str(workdir))
  assert expected in err
  assert sorted(p.name for p in tmp_path.iterdir()) == before  # no run, no pwned
