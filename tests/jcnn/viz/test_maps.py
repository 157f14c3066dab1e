"""Occlusion, top-k hits, invariance warps and rendering against brute force and hand
computations, on a small VGG-style network and real digits."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import data, models, viz
from jcnn.analysis.rf_table import Box, FeatureBox
from jcnn.viz import render, top_hits


@pytest.fixture(scope="module")
def net():
  """small_vgg, randomly initialised, and 120 real digits upsampled to 32×32."""
  model = models.create("small_vgg", num_classes=10)
  split = data.prepare(data.load("digits", "test"), resize=32)
  images = (split.images[:120].astype(np.float32) / 255 - 0.3) / 0.4
  variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 1)))
  return model, variables, images, split.labels[:120]


def test_occlusion_equals_a_brute_force_loop(net):
  model, variables, images, labels = net
  logits, feature = viz.logits_fn(model), viz.feature_fn(model, "relu3")
  maps = viz.occlusion_maps(logits, variables, images[0], int(labels[0]), size=8, stride=5,
                            fill=-0.75, feature_fn=feature, chunk=7)
  assert list(maps.rows) == [0, 5, 10, 15, 20] == list(maps.cols)
  clean = np.asarray(feature(variables, images[:1]))[0]
  channel = int(np.argmax(clean.max(axis=(0, 1))))
  assert maps.channel == channel
  for i, top in enumerate(maps.rows):
    for j, left in enumerate(maps.cols):
      occluded = images[0].copy()
      occluded[top:top + 8, left:left + 8] = -0.75
      probs = np.asarray(jax.nn.softmax(logits(variables, occluded[None])))[0]
      assert maps.true_prob[i, j] == pytest.approx(probs[labels[0]], abs=1e-5)
      assert maps.top_class[i, j] == np.argmax(probs)
      total = np.asarray(feature(variables, occluded[None]))[0, ..., channel].sum()
      assert maps.feature[i, j] == pytest.approx(total, rel=1e-5)


def test_top_hits_are_each_channels_strongest_over_the_images(net):
  model, variables, images, _ = net
  fn = viz.feature_fn(model, "relu2")
  top = viz.top_activations(fn, variables, images, k=9, batch_size=50)
  y = np.asarray(fn(variables, images))                     # [N, 16, 16, 32]
  per_image = y.reshape(len(images), -1, y.shape[-1]).max(axis=1)
  for c in (0, 7, 31):
    np.testing.assert_allclose(top.values[c], np.sort(per_image[:, c])[::-1][:9], rtol=1e-6)
    assert len(set(top.images[c])) == 9
    for value, i, (r, col) in zip(top.values[c], top.images[c], top.positions[c]):
      assert y[i, r, col, c] == pytest.approx(value, rel=1e-6)


def test_a_hit_is_recomputed_from_its_patch_alone_and_a_smaller_patch_fails(net):
  model, variables, images, _ = net
  # relu2: 3×3 conv (field 3), 2×2 pool (4, jump 2), 3×3 conv: 4 + 2 · 2 = 8 pixels.
  fn = viz.feature_fn(model, "relu2")
  top = viz.top_activations(fn, variables, images, k=9)
  shown = viz.hits(fn, variables, images, top, [3, 5], fill=0.0)
  assert shown.patches.shape == (2, 9, 8, 8, 1) == shown.projections.shape
  assert shown.max_error < 1e-5
  # The projection lies inside the field: nothing is lost by cutting it there.
  x = jnp.asarray(images[top.images[3]])
  y = fn(variables, x)
  units = [(i, *top.positions[3, i], 3) for i in range(9)]
  whole = np.asarray(viz.Backprojector(fn, variables)(x, viz.keep_units(y, units)))
  np.testing.assert_allclose(np.abs(shown.projections[0]).sum(axis=(1, 2, 3)),
                             np.abs(whole).sum(axis=(1, 2, 3)), rtol=1e-5)
  # Shrink the box by one pixel: the unit no longer reproduces, so the check can fail.
  table = top_hits.field_table(fn, variables, images.shape[1:])
  i = int(np.argmax(shown.inside[0]))
  box = top_hits.feature_box(table, None, tuple(top.positions[3, i]))
  inner = Box(box.box.top + 1, box.box.left + 1, box.box.bottom - 1, box.box.right - 1)
  canvas = top_hits.alone_on_canvas(images[top.images[3, i]], FeatureBox(inner, inner))
  r, col = top.positions[3, i]
  again = float(fn(variables, canvas[None])[0, r, col, 3])
  assert abs(again - top.values[3, i]) > 1e-3


def test_hits_reject_a_channel_out_of_range(net):
  model, variables, images, _ = net
  fn = viz.feature_fn(model, "relu1")
  top = viz.top_activations(fn, variables, images, k=2)
  with pytest.raises(ValueError, match="channel 16 out of range: the layer has 16"):
    viz.hits(fn, variables, images, top, [16])


def test_layer_names_and_an_unknown_layer(net):
  model, *_ = net
  assert viz.layer_names(model, (32, 32, 1)) == ["relu1", "relu2", "relu3", "relu4"]
  with pytest.raises(ValueError, match="unknown layer 'conv5'.*relu1, relu2, relu3, relu4"):
    viz.check_layer(model, (32, 32, 1), "conv5")


def test_warps_shift_whole_pixels_and_the_identity_changes_nothing():
  image = np.random.default_rng(0).standard_normal((12, 10, 3)).astype(np.float32)
  shifted = viz.warp(image, "translation", 3, fill=-1.0)
  np.testing.assert_allclose(shifted[3:], image[:-3], atol=1e-6)
  np.testing.assert_array_equal(shifted[:3], -1.0)
  for kind, identity in (("rotation", 360.0), ("scale", 1.0), ("rotation", 0.0)):
    np.testing.assert_allclose(viz.warp(image, kind, identity), image, atol=1e-5)
  square = np.zeros((5, 5, 1), np.float32)
  square[0, 2] = 1.0                                         # top middle
  np.testing.assert_allclose(viz.warp(square, "rotation", 90)[2, 0, 0], 1.0, atol=1e-6)
  with pytest.raises(ValueError, match="unknown transformation 'shear'"):
    viz.warp(image, "shear", 1)


def test_invariance_curves_start_at_zero_distance(net):
  model, variables, images, labels = net
  fns = {name: viz.feature_fn(model, name) for name in ("relu1", "relu4")}
  c = viz.invariance_curves(viz.logits_fn(model), fns, variables, images[:3], labels[:3],
                            "rotation", [0, 90])
  assert np.asarray(c["distance"]["relu1"]).shape == (3, 2)
  np.testing.assert_allclose(np.asarray(c["distance"]["relu4"])[:, 0], 0, atol=1e-4)
  assert np.all(np.asarray(c["distance"]["relu1"])[:, 1] > 0)
  probs = jax.nn.softmax(viz.logits_fn(model)(variables, images[:3]))
  np.testing.assert_allclose(np.asarray(c["true_prob"])[:, 0],
                             np.asarray(probs)[np.arange(3), labels[:3]], rtol=1e-5)


def test_rendering():
  np.testing.assert_array_equal(render.signed_to_pixels(np.array([-2.0, 0.0, 1.0, 2.0])),
                                [0, 128, 191, 255])
  np.testing.assert_array_equal(render.to_pixels(np.array([[0.0, -1.0]]), [0.5], [0.5]),
                                [[128, 0]])
  kernel = np.random.default_rng(0).standard_normal((3, 3, 5, 4))
  tiles = render.filter_tiles(kernel)
  assert tiles.shape == (4, 3, 3, 1) and tiles.dtype == np.uint8
  assert render.grid(tiles, cols=3, gap=1).shape == (7, 11, 1)
  maps = np.stack([np.zeros((2, 2)), np.array([[1.0, 3.0], [2.0, 5.0]])], axis=-1)
  np.testing.assert_array_equal(render.feature_map_tiles(maps)[1, ..., 0],
                                [[0, 128], [64, 255]])
