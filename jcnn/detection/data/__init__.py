"""Detection datasets as records and images, and batches for Faster R-CNN; `annotations`
reads the annotation files (VOC, YOLO, CSV, COCO, TFDS) into those records.

  from jcnn.detection import data as det_data
  split = det_data.load("digits_detection", "train")      # synthetic canvases, cached
  split = det_data.load("raccoon", "test")                # the fixed 40 held-out images
  image = split.image(0)                                  # uint8 [H, W, channels]
  for batch in det_data.batches(split, 2, min_size=600, max_size=1000,
                                padded_shape=(1000, 1000), max_boxes=50, train=True,
                                seed=0, epoch=3, flip=True, mean=mean, std=std):
    ...  # batch["image"] [2, 1000, 1000, C], batch["boxes"] [2, 50, 4], batch["box_mask"]
"""
from jcnn.detection.data.batching import batches
from jcnn.detection.data.batching import resize_and_pad
from jcnn.detection.data.batching import resized_size
from jcnn.detection.data.canvases import CanvasConfig
from jcnn.detection.data.sources import DATASETS
from jcnn.detection.data.sources import load
from jcnn.detection.data.split import DetectionSplit

__all__ = [
    "DATASETS",
    "CanvasConfig",
    "DetectionSplit",
    "batches",
    "load",
    "resize_and_pad",
    "resized_size",
]
