"""Images per second the input pipeline delivers, with no model: is it ever the bottleneck?

    JCNN_DATA_DIR=../shared/data python benchmarks/input_pipeline.py
    python benchmarks/input_pipeline.py --datasets cifar10 --seconds 10

For each dataset, the training stream of its config (MNIST: train/configs/lenet5_mnist.py,
pad 2; CIFAR-10: train/configs/resnet20_cifar10.py, pad-4 random crop and flip), with
normalisation, shuffling, background prefetch and the copy onto the device — exactly
what the train loop consumes. Prints one JSON line per dataset: img_per_s, load_s (read
and decode the split; cached after the first time), batch.
"""
import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks import store  # noqa: E402
from jcnn import runtime  # noqa: E402

runtime.configure(compile_cache=None)

from jcnn import data, parallel  # noqa: E402
from jcnn.tasks import classification  # noqa: E402
from train.configs import lenet5_mnist, resnet20_cifar10  # noqa: E402

CONFIGS = {"mnist": lenet5_mnist.get_config, "cifar10": resnet20_cifar10.get_config}


def measure(name: str, seconds: float) -> dict:
  config = CONFIGS[name]()
  start = time.perf_counter()
  split = classification.load_split(config, config.train_split)
  load_s = time.perf_counter() - start
  info = classification.dataset_info(config, split)
  mesh = parallel.make_mesh(1)
  images, epoch, start = 0, 0, None
  while True:
    stream = data.prefetch(parallel.put_batch(b, mesh) for b in classification.batches(
        config, split, info, train=True, epoch=epoch))
    for batch in stream:
      batch["image"].block_until_ready()
      if start is None:  # the first batch pays for thread start-up
        start = time.perf_counter()
        continue
      images += batch["image"].shape[0]
      if time.perf_counter() - start > seconds:
        elapsed = time.perf_counter() - start
        return {"dataset": name, "batch": config.batch_size, "img_per_s": round(images / elapsed),
                "crop_padding": config.crop_padding, "flip": config.flip,
                "load_s": round(load_s, 2), "train_examples": len(split)}
    epoch += 1


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--datasets", default="mnist,cifar10")
  p.add_argument("--seconds", type=float, default=10.0)
  store.add_save_flag(p, "input_pipeline.jsonl")
  args = p.parse_args(argv)
  store.save_to(args.save)
  for name in args.datasets.split(","):
    if name not in CONFIGS:
      sys.exit(f"unknown dataset {name!r}; choose from {', '.join(CONFIGS)}")
    store.emit(measure(name, args.seconds))


if __name__ == "__main__":
  main()
