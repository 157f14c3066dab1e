"""Detections drawn on their image: a box and a "name 0.93" tag per detection.

  picture = detection.draw_detections(image, d["boxes"], d["labels"], d["scores"],
                                      split.class_names, ground_truth=split.records[i])
  picture.save("detections.png")
"""
import colorsys
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Images whose longer side is shorter than this are enlarged: a 128-pixel digit canvas
# with 12-pixel text on it would be mostly text.
MIN_SIDE = 512
_GOLDEN = (math.sqrt(5) - 1) / 2


def class_color(label: int) -> tuple[int, int, int]:
  """The RGB colour of class `label`: hues a golden-ratio turn apart stay distinct."""
  r, g, b = colorsys.hsv_to_rgb((label * _GOLDEN) % 1.0, 0.85, 0.95)
  return round(r * 255), round(g * 255), round(b * 255)


def upscale_factor(height: int, width: int) -> int:
  """The integer factor `draw_detections` enlarges an image of this size by."""
  return max(1, math.ceil(MIN_SIDE / max(height, width, 1)))


def draw_detections(image: np.ndarray, boxes, labels, scores, class_names: Sequence[str], *,
                    ground_truth: dict | None = None) -> Image.Image:
  """The image in RGB with each detection's box and a "name score" tag, in its class colour.

  Images whose longer side is under `MIN_SIDE` (512) pixels are enlarged by the integer
  factor `ceil(512 / longer side)` (a 128 × 128 canvas: 4×) with nearest-neighbour
  sampling, which keeps the pixels crisp and the text legible. Higher scores are drawn
  last, on top.

  Args:
    image: uint8 [H, W, C] (C = 1 or 3) or [H, W]; grayscale becomes RGB.
    boxes: [N, 4] xyxy in the image's pixels.
    labels: [N] 0-based classes, indices into `class_names`.
    scores: [N].
    class_names: the names the tags show.
    ground_truth: {"boxes" [M, 4], "labels" [M]} (a record will do), drawn dashed and
      thinner in the class colours, without tags.

  Returns:
    An RGB PIL image of size (W * factor, H * factor).
  """
  picture, factor = _rgb_enlarged(image)
  boxes = np.asarray(boxes, np.float32).reshape(-1, 4) * factor
  labels = np.asarray(labels, np.int64).reshape(-1)
  scores = np.asarray(scores, np.float32).reshape(-1)
  if not len(boxes) == len(labels) == len(scores):
    raise ValueError(f"boxes, labels and scores differ in length: {len(boxes)}, "
                     f"{len(labels)}, {len(scores)}")
  _check_labels(labels, class_names)
  longer = max(picture.size)
  width = max(2, longer // 250)
  font = ImageFont.load_default(size=max(14, longer // 40))
  draw = ImageDraw.Draw(picture)
  if ground_truth is not None:
    gt_labels = np.asarray(ground_truth["labels"], np.int64).reshape(-1)
    _check_labels(gt_labels, class_names)
    gt_boxes = np.asarray(ground_truth["boxes"], np.float32).reshape(-1, 4) * factor
    for box, label in zip(gt_boxes, gt_labels):
      _dashed_rectangle(draw, box, class_color(int(label)), max(1, width // 2), 3 * width)
  for k in np.argsort(scores, kind="stable"):
    color = class_color(int(labels[k]))
    draw.rectangle(boxes[k].tolist(), outline=color, width=width)
    _tag(draw, boxes[k], f"{class_names[labels[k]]} {scores[k]:.2f}", color, font,
         picture.size)
  return picture


def _rgb_enlarged(image: np.ndarray) -> tuple[Image.Image, int]:
  image = np.asarray(image)
  if image.dtype != np.uint8:
    raise ValueError(f"draw_detections needs a uint8 image, got {image.dtype}")
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
    raise ValueError(f"draw_detections needs an [H, W], [H, W, 1] or [H, W, 3] image, got "
                     f"shape {image.shape}")
  picture = Image.fromarray(image).convert("RGB")
  factor = upscale_factor(*image.shape[:2])
  if factor > 1:
    picture = picture.resize((picture.width * factor, picture.height * factor),
                             Image.NEAREST)
  return picture, factor


def _check_labels(labels: np.ndarray, class_names: Sequence[str]) -> None:
  bad = labels[(labels < 0) | (labels >= len(class_names))]
  if bad.size:
    raise ValueError(f"label {int(bad[0])} is not a class: there are {len(class_names)} "
                     "class names")


def _tag(draw: ImageDraw.ImageDraw, box: np.ndarray, text: str, color, font, size) -> None:
  """A filled tag above the box's top-left corner (inside it at the image's top edge)."""
  left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
  pad = 2
  w, h = right - left + 2 * pad, bottom - top + 2 * pad
  x = min(max(float(box[0]), 0.0), max(size[0] - w, 0))
  y = float(box[1]) - h
  if y < 0:
    y = max(float(box[1]), 0.0)
  draw.rectangle([x, y, x + w, y + h], fill=color)
  luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
  draw.text((x + pad - left, y + pad - top), text, font=font,
            fill=(0, 0, 0) if luminance > 140 else (255, 255, 255))


def _dashed_rectangle(draw: ImageDraw.ImageDraw, box: np.ndarray, color, width: int,
                      dash: int) -> None:
  x1, y1, x2, y2 = (float(v) for v in box)
  for start, end in (((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)),
                     ((x1, y2), (x1, y1))):
    length = math.hypot(end[0] - start[0], end[1] - start[1])
    for a in np.arange(0.0, length, 2 * dash):
      b = min(a + dash, length)
      t0, t1 = a / max(length, 1e-6), b / max(length, 1e-6)
      draw.line([(start[0] + t0 * (end[0] - start[0]), start[1] + t0 * (end[1] - start[1])),
                 (start[0] + t1 * (end[0] - start[0]), start[1] + t1 * (end[1] - start[1]))],
                fill=color, width=width)
