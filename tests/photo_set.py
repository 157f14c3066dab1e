"""A real-photo classification folder for tests, built deterministically from ../shared/data.

`build_photo_set` cuts the labelled objects out of coco128's and raccoon's photos;
`write_bad_files` adds the hostile files a photo loader must survive.
"""
import io
import math
import pathlib

import numpy as np
from PIL import Image

from jcnn.detection.data import annotations

# The coco128 classes with the most boxes of at least MIN_SIDE pixels a side (person 142,
# bowl 19, chair 19, teddy bear 19; the next, umbrella and elephant, have 15), and raccoon.
CLASSES = ("bowl", "chair", "person", "raccoon", "teddy bear")
MIN_SIDE = 32
MARGIN = 0.1
TEST_EVERY = 5
QUALITY = 90


def build_photo_set(out: pathlib.Path, data_dir: pathlib.Path, *,
                    per_class_limit: int | None = None) -> pathlib.Path:
  """Builds `<out>/{train,test}/<class>/<photo>_<box>.jpg` from `data_dir` (../shared/data).

  How: every box of coco128 (YOLO labels, COCO's class names) and of raccoon (its VOC
  XML, class "raccoon") whose class is in CLASSES and whose sides are both at least 32
  pixels is cut out of its photo, enlarged by 10 % of its width and height on each side
  and clamped to the photo (so crops vary in size and shape, the shorter side >= 32),
  converted to RGB and saved as a JPEG of quality 90, named after its photo and the box's
  line in the label file (`000000000110_6.jpg`, `raccoon-1_0.jpg`). The crops of a class,
  sorted by (photo file name, box), keep the first `per_class_limit` (all when None);
  every 5th of them (the 5th, 10th, ...) goes to test, the others to train. Class
  folders use "_" for spaces (`teddy_bear`). With all crops: train/test bowl 16/3,
  chair 16/3, person 114/28, raccoon 174/43, teddy_bear 16/3.

  Args:
    out: the folder to build; it must be missing or empty.
    data_dir: the folder holding coco128/ and raccoon/.
    per_class_limit: the most crops of a class (train and test together).

  Returns:
    `out`.
  """
  out = pathlib.Path(out)
  if out.exists() and any(out.iterdir()):
    raise FileExistsError(f"{out} is not empty; build_photo_set needs a fresh folder")
  crops = {name: [] for name in CLASSES}
  for record in annotations.load_coco128(data_dir) + annotations.load_raccoon(data_dir):
    for k, (box, label) in enumerate(zip(record["boxes"], record["labels"])):
      name = record["class_names"][label]
      if name in crops and min(box[2] - box[0], box[3] - box[1]) >= MIN_SIDE:
        crops[name].append((pathlib.Path(record["image_path"]), k, box))
  for name, found in crops.items():
    found.sort(key=lambda crop: (crop[0].name, crop[1]))
    for i, (photo, k, box) in enumerate(found[:per_class_limit]):
      split = "test" if i % TEST_EVERY == TEST_EVERY - 1 else "train"
      folder = out / split / name.replace(" ", "_")
      folder.mkdir(parents=True, exist_ok=True)
      with Image.open(photo) as image:
        crop = image.convert("RGB").crop(_enlarged(box, image.size))
      crop.save(folder / f"{photo.stem}_{k}.jpg", quality=QUALITY)
  return out


def _enlarged(box: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
  """The box (x1, y1, x2, y2) grown by MARGIN of its sides, in whole pixels in the photo."""
  x1, y1, x2, y2 = (float(v) for v in box)
  dx, dy = MARGIN * (x2 - x1), MARGIN * (y2 - y1)
  return (max(0, math.floor(x1 - dx)), max(0, math.floor(y1 - dy)),
          min(size[0], math.ceil(x2 + dx)), min(size[1], math.ceil(y2 + dy)))


def write_bad_files(folder: pathlib.Path) -> dict[str, pathlib.Path]:
  """Writes into `folder` (a class folder) the files issue 32's "Bad input" names.

  Returns:
    {"truncated": the first half of a JPEG, "empty": a zero-byte .jpg, "text": a text file
    named .jpg, "cmyk": a CMYK JPEG, "png16": a 16-bit grayscale PNG}: the first three do
    not decode, the last two decode in a mode other than RGB or 8-bit L.
  """
  folder = pathlib.Path(folder)
  folder.mkdir(parents=True, exist_ok=True)
  ramp = np.add.outer(np.arange(48), np.arange(64)).astype(np.uint8) * 2  # [48, 64]
  jpeg = io.BytesIO()
  Image.fromarray(np.stack([ramp, ramp[::-1], 255 - ramp], -1)).save(jpeg, "JPEG", quality=90)
  paths = {"truncated": folder / "truncated.jpg", "empty": folder / "empty.jpg",
           "text": folder / "text.jpg", "cmyk": folder / "cmyk.jpg",
           "png16": folder / "png16.png"}
  paths["truncated"].write_bytes(jpeg.getvalue()[:len(jpeg.getvalue()) // 2])
  paths["empty"].write_bytes(b"")
  paths["text"].write_text("This is not a photo.\n")
  Image.fromarray(np.stack([ramp, 255 - ramp, ramp[::-1], ramp // 2], -1), "CMYK").save(
      paths["cmyk"], "JPEG", quality=90)
  Image.fromarray(ramp.astype(np.uint16) * 257).save(paths["png16"])
  return paths
