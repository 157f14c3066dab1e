"""Per-channel normalisation statistics, on pixels scaled to [0, 1]."""
import numpy as np

from jcnn.data.split import Split

# (mean, std) per channel of the training split. MNIST and CIFAR-10: the published values
# everyone normalises with; Fashion-MNIST and digits: `channel_stats` of `load(name, "train")`.
# The JPEG (q75) CIFAR-10 in shared/data has the same means but stds ~1% lower (0.2452,
# 0.2428, 0.2606): JPEG smooths.
DATASET_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "digits": ((0.3053,), (0.3758,)),
}

# ImageNet's training split (torchvision's values): what ImageNet-trained weights expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# TF-slim's "inception" preprocessing (Keras' "tf"), pixels to [-1, 1]: what Google's
# TF-slim weights (Inception, MobileNet) expect, wherever they were ported.
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)


def channel_stats(split: Split) -> tuple[np.ndarray, np.ndarray]:
  """Per-channel mean and (population) std of `split.images / 255`.

  Returns:
    (mean, std), each [C] float64.
  """
  if not len(split):
    raise ValueError(f"{split.name}/{split.split} is empty; it has no statistics")
  pixels = split.images.reshape(-1, split.images.shape[-1])
  total = np.zeros(pixels.shape[1])
  total_sq = np.zeros(pixels.shape[1])
  for start in range(0, len(pixels), 1 << 22):  # Chunks keep the float copy small.
    chunk = pixels[start:start + (1 << 22)].astype(np.float64) / 255
    total += chunk.sum(0)
    total_sq += np.square(chunk).sum(0)
  mean = total / len(pixels)
  return mean, np.sqrt(total_sq / len(pixels) - np.square(mean))
