"""Datasets as in-memory numpy splits, and reproducible batches of them.

  split = data.prepare(data.load("mnist", "train"), pad=2)  # [60000, 32, 32, 1] uint8
  mean, std = data.DATASET_STATS["mnist"]
  for batch in data.prefetch(data.batches(split, 128, train=True, seed=0, epoch=3,
                                          start_batch=0, mean=mean, std=std)):
    ...  # batch["image"]: [128, 32, 32, 1] float32, batch["label"], batch["mask"]: [128]
"""
from jcnn.data.augment import random_crop
from jcnn.data.augment import random_flip
from jcnn.data.image_folder import decode_images
from jcnn.data.order import steps_per_epoch
from jcnn.data.pipeline import batches
from jcnn.data.prefetch import prefetch
from jcnn.data.preprocess import prepare
from jcnn.data.preprocess import resize_images
from jcnn.data.sources import load
from jcnn.data.split import Split
from jcnn.data.split import balanced_indices
from jcnn.data.split import balanced_subset
from jcnn.data.stats import DATASET_STATS
from jcnn.data.stats import IMAGENET_MEAN
from jcnn.data.stats import IMAGENET_STD
from jcnn.data.stats import channel_stats

__all__ = [
    "DATASET_STATS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Split",
    "balanced_indices",
    "balanced_subset",
    "batches",
    "channel_stats",
    "decode_images",
    "load",
    "prefetch",
    "prepare",
    "random_crop",
    "random_flip",
    "resize_images",
    "steps_per_epoch",
]
