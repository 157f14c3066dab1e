"""Train a model: `python -m train [--config FILE] [--workdir DIR] [--config.KEY=VALUE ...]`.

Deliberately thin: parsing and error reporting only; the loop is `train.trainer`.
With no arguments it trains LeNet-5 on the embedded digits into runs/lenet5_digits.
Running the same command again resumes from the latest checkpoint in the workdir.
Compiled programs are cached in $JCNN_CACHE_DIR/xla (default ~/.cache/jcnn/xla), so a
second start skips most of the compilation. XLA:CPU flags that speed up the CIFAR
ResNets go on for those models only; JCNN_XLA_CPU_FLAGS=1 / 0 forces them on / off
(see jcnn/runtime.py).

Examples:
  python -m train
  python -m train --config train/configs/lenet5_mnist.py --workdir runs/mnist
  python -m train --config.num_epochs=5 --config.optimizer=momentum --config.learning_rate=0.01
"""
import json
import os
import pathlib
import sys

from absl import app, flags, logging
from ml_collections import config_flags

_DEFAULT_CONFIG = str(pathlib.Path(__file__).parent / "configs" / "default.py")
_CONFIG = config_flags.DEFINE_config_file(
    "config", _DEFAULT_CONFIG,
    "Experiment config file (train/configs/*.py); override fields with --config.KEY=VALUE.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Run folder for checkpoints, logs and the resolved config "
    "(default: runs/<config.name>). An existing run there is resumed.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not flags.FLAGS["verbosity"].present:  # orbax logs every save at INFO
    logging.set_verbosity(logging.WARNING)
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow only writes summaries
  from jcnn import runtime  # after flag parsing, so --help stays fast
  config = _CONFIG.value
  runtime.configure(model=config.model)  # XLA:CPU flags, compile cache: before compiling
  from jcnn import checkpoint
  from train import trainer
  workdir = _WORKDIR.value or str(pathlib.Path("runs") / config.name)
  try:
    results = trainer.train_and_evaluate(config, workdir)
  except (ValueError, OSError, checkpoint.CheckpointError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(json.dumps({"workdir": workdir, **results}))


if __name__ == "__main__":
  app.run(main)
