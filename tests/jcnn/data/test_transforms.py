"""jcnn.data.transforms against torchvision's PIL transforms, the published PCA numbers and
Pillow's own decodes, on real photos (scikit-image's astronaut and chelsea)."""
import functools
import io

import numpy as np
import pytest
import skimage.data
from PIL import Image

from jcnn.data import transforms
from tests import pretrained_sources
from tests.helpers import write_png_bomb


def _jpeg(image: Image.Image, quality: int = 90, **save) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, "JPEG", quality=quality, **save)
  return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, "PNG")
  return buffer.getvalue()


@functools.cache
def _astronaut(width: int, height: int) -> Image.Image:
  return Image.fromarray(skimage.data.astronaut()).resize((width, height), Image.BICUBIC)


@functools.cache
def _photo_jpeg() -> bytes:
  """A 500x375 q90 JPEG: ImageNet's commonest size."""
  return _jpeg(_astronaut(500, 375))


@functools.cache
def _large_jpeg() -> bytes:
  return _jpeg(_astronaut(2000, 1500))


def _chelsea() -> Image.Image:
  """451x300, and an odd-sized crop of it."""
  return Image.fromarray(skimage.data.chelsea())


def _functional():
  return pretrained_sources.import_torchvision().transforms.functional


class _ReplayedTorch:
  """`torch` as torchvision.transforms.transforms sees it, with the uniform and randint
  draws of `RandomResizedCrop.get_params` taken from a numpy Generator in the order it
  makes them (in float64: torchvision's own log of the ratio range is float32)."""

  def __init__(self, torch, rng: np.random.Generator):
    self._torch, self._rng = torch, rng

  def __getattr__(self, name):
    return getattr(self._torch, name)

  def tensor(self, values, **kwargs):
    return self._torch.tensor(values, dtype=self._torch.float64)

  def empty(self, *shape):
    return self

  def uniform_(self, low, high):
    return self._torch.tensor(float(low) + (float(high) - float(low)) * self._rng.random(),
                              dtype=self._torch.float64)

  def randint(self, low, high, size):
    return self._torch.tensor([int(self._rng.integers(low, high))])


def _torchvision_box(monkeypatch, image: Image.Image, rng: np.random.Generator):
  """torchvision's `RandomResizedCrop.get_params` on `image`, drawing from `rng`."""
  torchvision = pretrained_sources.import_torchvision()
  import torch
  module = torchvision.transforms.transforms
  with monkeypatch.context() as patch:
    patch.setattr(module, "torch", _ReplayedTorch(torch, rng))
    return module.RandomResizedCrop.get_params(image, scale=[0.08, 1.0], ratio=[3 / 4, 4 / 3])


def test_lighting_constants_are_alexnets_published_pca():
  np.testing.assert_array_equal(transforms.IMAGENET_EIGVAL, [0.2175, 0.0188, 0.0045])
  assert transforms.IMAGENET_EIGVEC[0, 1] == 0.7192 and transforms.IMAGENET_EIGVEC[1, 2] == -0.8140
  assert transforms.IMAGENET_EIGVEC[2, 0] == -0.5836
  # Eigenvectors of a covariance, as columns: orthonormal to the 4 printed digits.
  gram = transforms.IMAGENET_EIGVEC.T @ transforms.IMAGENET_EIGVEC
  np.testing.assert_allclose(gram, np.eye(3), atol=2e-3)


def test_pca_lighting_adds_the_eigenvector_offset_computed_by_hand():
  pixels = np.full((4, 5, 3), 128, np.uint8)
  alpha = np.random.default_rng(7).normal(0.0, 0.1, 3)
  offset = [sum(transforms.IMAGENET_EIGVEC[c, j] * alpha[j] * transforms.IMAGENET_EIGVAL[j]
                for j in range(3)) * 255 for c in range(3)]
  out = transforms.pca_lighting(pixels, np.random.default_rng(7), 0.1)
  assert out.dtype == np.uint8 and out.shape == pixels.shape
  np.testing.assert_array_equal(out, np.broadcast_to(np.rint(128 + np.array(offset)), (4, 5, 3)))
  photo = np.asarray(_chelsea())
  np.testing.assert_array_equal(transforms.pca_lighting(photo, np.random.default_rng(0), 0.0),
                                photo)
  grey = np.array([[[0, 0, 0], [128, 128, 128], [255, 255, 255]]], np.uint8)
  alpha = np.random.default_rng(3).normal(0.0, 5.0, 3)  # an offset of about -330
  offset = transforms.IMAGENET_EIGVEC @ (alpha * transforms.IMAGENET_EIGVAL) * 255
  out = transforms.pca_lighting(grey, np.random.default_rng(3), 5.0)
  np.testing.assert_array_equal(out, np.clip(np.rint(grey + offset), 0, 255))
  np.testing.assert_array_equal(out[0, 1], [0, 0, 0])  # clipped, not wrapped
  with pytest.raises(ValueError, match=r"RGB pixels \[\.\.\., 3\]"):
    transforms.pca_lighting(photo[..., :1], np.random.default_rng(0))


@pytest.mark.parametrize("side", [256, 224, 300, 700])
def test_resize_shorter_and_center_crop_equal_torchvisions(side):
  F = _functional()
  for photo in (_chelsea(), _chelsea().crop((17, 5, 350, 262)), _astronaut(375, 500)):
    resized = transforms.resize_shorter(photo, side)
    expected = F.resize(photo, side)
    assert resized.size == expected.size
    np.testing.assert_array_equal(np.asarray(resized), np.asarray(expected))
    for size in (224, 223):
      np.testing.assert_array_equal(np.asarray(transforms.center_crop(resized, size)),
                                    np.asarray(F.center_crop(expected, size)))


def test_crops_refuse_an_image_smaller_than_the_crop():
  photo = _chelsea()  # 451x300
  with pytest.raises(ValueError, match="451x300"):
    transforms.center_crop(photo, 301)
  with pytest.raises(ValueError, match="451x300"):
    transforms.random_crop(photo, 301, np.random.default_rng(0))


@pytest.mark.parametrize("width,height", [(500, 375), (375, 500), (64, 64), (1000, 20),
                                          (20, 1000)])
def test_random_resized_crop_replays_torchvisions_get_params(monkeypatch, width, height):
  photo = _astronaut(width, height)
  for seed in range(200):
    ours = transforms.random_resized_crop_box(height, width, np.random.default_rng(seed))
    assert ours == _torchvision_box(monkeypatch, photo, np.random.default_rng(seed)), seed
  F = _functional()
  box = transforms.random_resized_crop_box(height, width, np.random.default_rng(3))
  np.testing.assert_array_equal(
      np.asarray(transforms.random_resized_crop(photo, 224, np.random.default_rng(3))),
      np.asarray(F.resized_crop(photo, *box, [224, 224])))


def test_random_resized_crop_boxes_span_the_papers_ranges():
  boxes = np.array([transforms.random_resized_crop_box(400, 400, np.random.default_rng(s))
                    for s in range(2000)])
  top, left, h, w = boxes.T
  assert min(top.min(), left.min()) >= 0 and max((top + h).max(), (left + w).max()) <= 400
  area = h * w / 400 ** 2
  assert area.min() >= 0.075 and area.max() <= 1.0  # 0.08 less integer rounding
  assert area.min() < 0.1 and area.max() > 0.9
  log_aspect = np.log(w / h)
  assert np.abs(log_aspect).max() <= np.log(4 / 3) + 0.02
  assert abs(np.median(log_aspect)) < 0.03  # log-uniform: symmetric about 1 on a square


@pytest.mark.parametrize("width,height", [(1000, 20), (20, 1000)])
def test_random_resized_crop_falls_back_to_torchvisions_centre_crop(width, height):
  """No 8-100 % box with aspect 3/4-4/3 fits: torchvision's answer is deterministic."""
  torchvision = pretrained_sources.import_torchvision()
  expected = torchvision.transforms.RandomResizedCrop.get_params(
      Image.new("RGB", (width, height)), scale=[0.08, 1.0], ratio=[3 / 4, 4 / 3])
  box = transforms.random_resized_crop_box(height, width, np.random.default_rng(0))
  assert box == tuple(expected) and 27 in box


def test_scale_jitter_draws_the_shorter_side_then_the_crop_as_documented():
  F = _functional()
  photo = _astronaut(500, 375)
  sides = set()
  for seed in range(40):
    rng = np.random.default_rng(seed)
    side = int(rng.integers(256, 513))
    resized = F.resize(photo, side)
    top = int(rng.integers(0, resized.height - 223))
    left = int(rng.integers(0, resized.width - 223))
    expected = F.crop(resized, top, left, 224, 224)
    out = transforms.scale_jitter_crop(photo, 224, np.random.default_rng(seed))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))
    sides.add(side)
  assert min(sides) < 300 and max(sides) > 470
  with pytest.raises(ValueError, match="size <= shorter"):
    transforms.scale_jitter_crop(photo, 300, np.random.default_rng(0))


def test_flip_mirrors_about_half_the_time():
  photo = _chelsea()
  flipped = [transforms.flip(photo, np.random.default_rng(s)) is not photo for s in range(400)]
  assert 0.4 < np.mean(flipped) < 0.6
  seed = flipped.index(True)
  np.testing.assert_array_equal(np.asarray(transforms.flip(photo, np.random.default_rng(seed))),
                                np.asarray(photo)[:, ::-1])


def test_decode_drafts_a_large_jpeg_to_the_smallest_scale_that_keeps_min_side():
  data = _large_jpeg()  # 2000x1500
  assert transforms.decode(data).size == (2000, 1500)
  assert transforms.decode(data, min_side=224).size == (500, 375)  # 1/4; 1/8 would be 188
  assert transforms.decode(data, min_side=375).size == (500, 375)
  assert transforms.decode(data, min_side=376).size == (1000, 750)
  assert transforms.decode(data, min_side=1501).size == (2000, 1500)
  drafted = np.asarray(transforms.decode(data, min_side=224), np.float64)
  resized = np.asarray(transforms.decode(data).resize((500, 375), Image.BILINEAR), np.float64)
  assert np.abs(drafted - resized).mean() < 3
  assert transforms.decode(_png(_astronaut(2000, 1500)), min_side=224).size == (2000, 1500)


def test_decode_converts_cmyk_sixteen_bit_grey_and_drops_alpha():
  photo = np.asarray(_chelsea())
  cmyk = transforms.decode(_jpeg(_chelsea().convert("CMYK"), quality=95))
  assert cmyk.mode == "RGB" and np.abs(np.asarray(cmyk, float) - photo).mean() < 3
  grey = np.asarray(_chelsea().convert("L"))
  wide = Image.fromarray(grey.astype(np.uint16) * 257)  # the same picture in 16 bits
  assert wide.mode == "I;16"
  decoded = transforms.decode(_png(wide), channels=1)
  assert decoded.mode == "L"
  np.testing.assert_array_equal(np.asarray(decoded), grey)  # scaled, not clipped at 255
  np.testing.assert_array_equal(np.asarray(transforms.decode(_png(wide))),
                                np.stack([grey] * 3, axis=-1))
  rgba = np.dstack([photo, np.zeros(photo.shape[:2], np.uint8)])  # fully transparent
  np.testing.assert_array_equal(np.asarray(transforms.decode(_png(Image.fromarray(rgba)))), photo)


def test_decode_leaves_exif_orientation_unapplied():
  exif = Image.Exif()
  exif[0x0112] = 6  # "rotate 90 CW to display"
  assert transforms.decode(_jpeg(_chelsea(), exif=exif)).size == (451, 300)


def test_decode_refuses_bad_bytes_with_a_reason(tmp_path):
  data = _photo_jpeg()
  for bad, reason in ((b"", "empty file"), (data[:len(data) // 2], "truncated or damaged"),
                      (b"label,file\ncat,a.jpg\n", "not an image"),
                      (write_png_bomb(tmp_path / "bomb.png").read_bytes(), "too many pixels")):
    with pytest.raises(ValueError, match=reason):
      transforms.decode(bad)
  with pytest.raises(ValueError, match="channels must be 1 or 3"):
    transforms.decode(data, channels=4)


@pytest.mark.parametrize("recipe", transforms.TRAIN_RECIPES)
def test_train_example_shapes_and_replay(recipe):
  data = _photo_jpeg()
  for channels in (3, 1):
    out = transforms.train_example(data, recipe=recipe, size=224, channels=channels,
                                   rng=np.random.default_rng(5))
    assert out.shape == (224, 224, channels) and out.dtype == np.uint8
  run = lambda seed: transforms.train_example(data, recipe=recipe, size=160, lighting=0.1,
                                              rng=np.random.default_rng(seed))
  np.testing.assert_array_equal(run(1), run(1))
  assert run(1).shape == (160, 160, 3) and not np.array_equal(run(1), run(2))


@pytest.mark.parametrize("recipe", transforms.TRAIN_RECIPES)
def test_train_example_equals_torchvision_fed_the_documented_draws(monkeypatch, recipe):
  """The recipe's crop, the flip, the lighting, each as torchvision does it (lighting as
  fb.resnet.torch's `Lighting`), drawing from the generator in the documented order."""
  F = _functional()
  data = _photo_jpeg()
  photo = Image.open(io.BytesIO(data)).convert("RGB")
  for seed in range(6):
    rng = np.random.default_rng(seed)
    if recipe == "inception_crop":
      image = F.resized_crop(photo, *_torchvision_box(monkeypatch, photo, rng), [224, 224])
    elif recipe == "pad_crop":  # torchvision's RandomCrop(224, padding=4) after the centre crop
      image = F.pad(F.center_crop(F.resize(photo, 224), 224), 4)
      top, left = int(rng.integers(0, 9)), int(rng.integers(0, 9))
      image = F.crop(image, top, left, 224, 224)
    else:
      side = {"alexnet_crop": 256, "resize_crop": 224}.get(recipe) or int(rng.integers(256, 513))
      image = F.resize(photo, side)
      top, left = int(rng.integers(0, image.height - 223)), int(rng.integers(0, image.width - 223))
      image = F.crop(image, top, left, 224, 224)
    if rng.random() < 0.5:
      image = F.hflip(image)
    alpha = rng.normal(0.0, 0.1, 3)
    light = (transforms.IMAGENET_EIGVEC * alpha * transforms.IMAGENET_EIGVAL).sum(1) * 255
    expected = np.clip(np.rint(np.asarray(image, np.float32) + light.astype(np.float32)), 0, 255)
    out = transforms.train_example(data, recipe=recipe, size=224, lighting=0.1,
                                   rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(out, expected.astype(np.uint8))


@pytest.mark.parametrize("width,height,size,tolerance", [(2000, 1500, 224, 1.5),
                                                         (512, 512, 64, 3)])
def test_inception_crop_draft_keeps_the_draws_and_the_picture(width, height, size, tolerance):
  """Same box, decoded at 1/2 or 1/4 scale: within ~1 grey level of the full decode (a box
  misplaced by one reduced pixel differs by 3-15)."""
  data = _jpeg(_astronaut(width, height))
  for seed in range(5):
    full, drafted = (transforms.train_example(data, recipe="inception_crop", size=size,
                                              draft=d, rng=np.random.default_rng(seed))
                     for d in (False, True))
    assert np.abs(full.astype(float) - drafted).mean() < tolerance, seed


def test_train_example_refuses_unknown_recipes_and_grey_lighting():
  with pytest.raises(ValueError, match=r"'vgg-jitter' \(did you mean 'vgg_jitter'\?\); known: "
                                       r"inception_crop, alexnet_crop"):
    transforms.train_example(b"", recipe="vgg-jitter", size=224, rng=np.random.default_rng(0))
  with pytest.raises(ValueError, match="channels=1"):
    transforms.train_example(_photo_jpeg(), recipe="resize_crop", size=224, channels=1,
                             lighting=0.1, rng=np.random.default_rng(0))


def test_eval_example_equals_torchvisions_imagenet_evaluation():
  torchvision = pretrained_sources.import_torchvision()
  T = torchvision.transforms
  data = _photo_jpeg()
  expected = T.Compose([T.Resize(256), T.CenterCrop(224)])(
      Image.open(io.BytesIO(data)).convert("RGB"))
  out = transforms.eval_example(data, size=224)
  assert out.dtype == np.uint8
  np.testing.assert_array_equal(out, np.asarray(expected))
  assert transforms.eval_example(data, size=224, channels=1).shape == (224, 224, 1)
  scales = transforms.multi_scale_example(data, 224)
  assert scales.shape == (3, 224, 224, 3)
  np.testing.assert_array_equal(scales[0], out)
  np.testing.assert_array_equal(scales[2], transforms.eval_example(data, size=224, resize=512))


def test_pad_crop_is_a_window_of_the_photo_padded_with_four_zeros_as_the_cifar_resnets_train():
  # He et al. 2016 §4.2: "4 pixels are padded on each side, and a 32x32 crop is randomly
  # sampled from the padded image or its horizontal flip".
  pixels = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
  encoded = io.BytesIO()
  Image.fromarray(pixels).save(encoded, "PNG")
  padded = np.pad(pixels, ((4, 4), (4, 4), (0, 0)))
  offsets = set()
  for seed in range(60):
    out = transforms.train_example(encoded.getvalue(), recipe="pad_crop", size=32,
                                   rng=np.random.default_rng(seed), flip=False)
    found = [(dy, dx) for dy in range(9) for dx in range(9)
             if np.array_equal(padded[dy:dy + 32, dx:dx + 32], out)]
    assert len(found) == 1, seed
    offsets.add(found[0])
  assert {dy for dy, _ in offsets} == set(range(9)) and {dx for _, dx in offsets} == set(range(9))
