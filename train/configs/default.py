"""LeNet-5 on scikit-learn's 8×8 digits (upsampled to 32×32): the default job.

    python -m train                     # same as --config train/configs/default.py

Needs no download and no data folder. Expected: ≥ 97 % top-1 on the 450-image test
split (measured 99.3 / 99.8 / 99.6 % for seeds 0 / 1 / 2; 97.3 % without the crop
augmentation) in about 25 s on a 2-core CPU (23 s measured, 2026-11-28).
"""
import ml_collections

from jcnn import tasks


def base(task: str = "classification") -> ml_collections.ConfigDict:
  """Every field a run of `task` understands, with defaults; experiment configs start here.

  The fields and their comments are in one place: the common ones in
  jcnn/tasks/base.py (`common_fields`), the task's own in its module
  (classification: jcnn/tasks/classification.py).
  """
  return tasks.default_config(task)


def get_config() -> ml_collections.ConfigDict:
  c = base()
  c.name = "lenet5_digits"
  c.resize = 32
  c.crop_padding = 2             # ±2 px shifts of the 4× upsampled digits
  c.batch_size = 32
  c.num_epochs = 30
  c.learning_rate = 2e-3
  c.warmup_epochs = 1.0
  return c
