"""train/configs/finetune_resnet18_photos.py end to end: torchvision's ResNet-18 (random
weights drawn by torchvision) imported with `python -m eval import-weights`, then
fine-tuned on a folder of photos with its last stage and head trained and the rest
frozen, as the config's docstring shows."""
import numpy as np
import skimage.data
from flax import traverse_util
from PIL import Image

from jcnn import runs, tasks, training
from tests import pretrained_sources
from tests.helpers import eval_json
from train.configs import finetune_resnet18_photos


def _photo_folder(root, side: int = 48):
  """Two classes (cat, coffee) of random crops of scikit-image's photos, in
  `<split>/<class>/<image>.png`: 6 per class to train on, 2 to test."""
  rng = np.random.default_rng(0)
  for name, photo in (("cat", skimage.data.chelsea()), ("coffee", skimage.data.coffee())):
    for split, count in (("train", 6), ("test", 2)):
      folder = root / split / name
      folder.mkdir(parents=True)
      for i in range(count):
        y = rng.integers(0, photo.shape[0] - 4 * side)
        x = rng.integers(0, photo.shape[1] - 4 * side)
        crop = Image.fromarray(photo[y:y + 4 * side, x:x + 4 * side]).resize((side, side))
        crop.save(folder / f"{i}.png")
  return root


def _variables(workdir) -> dict:
  run = runs.Run.open(workdir)
  restored = tasks.restore(run, None)
  return {key: np.asarray(value) for key, value in traverse_util.flatten_dict(
      restored.variables, sep="/").items()}


def test_an_imported_network_fine_tunes_on_photos_with_its_frozen_layers_unchanged(
    tmp_path, capsys):
  torchvision = pretrained_sources.import_torchvision()
  import torch
  torch.manual_seed(0)
  net = pretrained_sources.randomize_torch(torchvision.models.resnet18(), seed=1)
  torch.save(net.state_dict(), tmp_path / "resnet18.pth")
  imported = tmp_path / "resnet18_torchvision"
  eval_json(capsys, "import-weights", "--source", "torchvision", "--file",
            str(tmp_path / "resnet18.pth"), "--model", "resnet18", "--workdir",
            str(imported), "--json")

  config = finetune_resnet18_photos.get_config()
  config.init_from = str(imported)
  config.data_dir = str(_photo_folder(tmp_path / "photos"))
  config.train_examples = config.eval_examples = 0
  config.resize, config.crop_padding = 64, 4
  config.batch_size, config.eval_batch_size, config.num_epochs = 4, 4, 2
  config.freeze = "^(conv1|bn1|stage[1-3])"
  results = training.train_and_evaluate(config, str(tmp_path / "finetuned"))

  assert results["num_examples"] == 4 and 0 <= results["top1"] <= 1
  before, after = _variables(imported), _variables(tmp_path / "finetuned")
  assert after["params/fc/kernel"].shape == (512, 2)  # the folder's two classes
  frozen = [k for k in after if k.split("/")[1].startswith(("conv1", "bn1", "stage1",
                                                              "stage2", "stage3"))]
  trained = [k for k in after if k.startswith("params/stage4")]
  assert frozen and trained
  for key in frozen:  # parameters and their batch statistics, bit for bit
    np.testing.assert_array_equal(after[key], before[key], err_msg=key)
  assert all(not np.array_equal(after[k], before[k]) for k in trained)
