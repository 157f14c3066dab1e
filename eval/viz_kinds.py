"""The figures of `eval viz`, one function per KIND: each writes PNGs and returns the
numbers behind them (JSON-ready)."""
import dataclasses
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from eval import viz_inputs
from jcnn import runs, tasks, viz
from jcnn.viz import invariance, render

SCALE = 4   # PNG pixels per image pixel for small (CIFAR / MNIST-sized) inputs


@dataclasses.dataclass
class Subject:
  """What a figure looks at: a restored checkpoint and its inputs."""
  run: runs.Run
  restored: tasks.Restored
  inputs: viz_inputs.Inputs
  output: pathlib.Path

  @property
  def model(self):
    return self.restored.model

  @property
  def variables(self):
    return self.restored.variables

  @property
  def image_shape(self) -> tuple:
    return tuple(self.run.dataset_info["image_shape"])

  @property
  def class_names(self) -> list:
    return list(self.run.dataset_info["class_names"])

  def pixels(self, x: np.ndarray) -> np.ndarray:
    info = self.run.dataset_info
    return render.as_rgb(render.to_pixels(x, info["mean"], info["std"]))

  def labels(self) -> np.ndarray:
    """True classes; for files, the model's own top class."""
    if self.inputs.labels is not None:
      return self.inputs.labels
    logits = jax.jit(viz.logits_fn(self.model))(self.variables, jnp.asarray(self.inputs.images))
    return np.asarray(jnp.argmax(logits, -1))

  def layers(self, layer: str | None, default: str) -> list[str]:
    """[layer] checked, or the default: "all" spatial layers, the "first" or "last"."""
    if layer is not None:
      return [viz.check_layer(self.model, self.image_shape, layer)]
    names = viz.layer_names(self.model, self.image_shape)
    if not names:
      raise ValueError(f"{type(self.model).__name__} records no feature maps")
    return {"all": names, "first": names[:1], "last": names[-1:]}[default]

  def save(self, name: str, image: np.ndarray, scale: int = SCALE) -> str:
    return str(render.save_png(self.output / name, image, scale))

  def save_figure(self, fig, name: str, **savefig) -> str:
    """Writes a matplotlib figure to --output/name and closes it."""
    path = self.output / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, **savefig)
    _pyplot().close(fig)
    return str(path)


def _pyplot():
  """matplotlib's pyplot on the file-only Agg backend (imported when a figure is drawn)."""
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import pyplot
  return pyplot


def _row(tiles) -> np.ndarray:
  return render.grid(np.stack(tiles), cols=len(tiles), gap=2)


def _channels(requested: list[int] | None, count: int, available: int, layer: str) -> list:
  for c in requested or []:
    if not 0 <= c < available:
      raise ValueError(f"channel {c} out of range: layer {layer} has {available} channels")
  return requested or list(range(min(count, available)))


def filters(s: Subject, args) -> dict:
  """The kernels of the first convolution (of the last one feeding --layer)."""
  if args.layer is None:
    fn, last = viz.logits_fn(s.model), False
  else:
    fn, last = viz.feature_fn(s.model, s.layers(args.layer, "first")[0]), True
  path, kernel = viz.conv_kernel(fn, s.variables, s.image_shape, last=last)
  tiles = render.filter_tiles(kernel)
  scale = max(1, 48 // kernel.shape[0])
  picture = render.grid(np.stack([render.as_rgb(t) for t in tiles]), gap=1)
  return {"kernel": path, "shape": list(kernel.shape),
          "files": [s.save("filters.png", picture, scale)]}


def deconv(s: Subject, args) -> dict:
  """Per image and layer: the deconvnet projections of the strongest feature maps, and
  a grid of all the layer's maps."""
  files, found = [], {}
  layers = s.layers(args.layer, "all")
  # Compiled once per layer, for every image.
  forward = {layer: jax.jit(viz.feature_fn(s.model, layer)) for layer in layers}
  projectors = {layer: viz.Backprojector(viz.feature_fn(s.model, layer), s.variables,
                                         args.rule) for layer in layers}
  for i, name in enumerate(s.inputs.names):
    x = jnp.asarray(s.inputs.images[i:i + 1])
    rows, found[name] = [], {}
    for layer in layers:
      y = forward[layer](s.variables, x)
      strongest = np.argsort(-np.asarray(y[0].max(axis=(0, 1))))[:args.top]
      project = projectors[layer]
      tiles = [s.pixels(s.inputs.images[i])]
      for c in strongest:
        r, col = np.unravel_index(int(jnp.argmax(y[0, ..., c])), y.shape[1:3])
        p = project(x, viz.keep_units(y, [(0, r, col, c)]))
        tiles.append(render.as_rgb(render.signed_to_pixels(p[0])))
      rows.append(_row(tiles))
      maps = render.grid(render.feature_map_tiles(np.asarray(y[0])), gap=1)
      files.append(s.save(f"maps_{name}_{layer}.png", maps, SCALE))
      found[name][layer] = [{"channel": int(c), "value": float(y[0].max(axis=(0, 1))[c])}
                            for c in strongest]
    files.append(s.save(f"deconv_{name}.png", render.grid(np.stack(rows), cols=1, gap=4)))
  return {"rule": args.rule, "switches": project.has_switches(x), "strongest": found,
          "files": files}


def top9(s: Subject, args) -> dict:
  """ZF Fig. 2: each channel's 9 strongest hits — projections beside their patches."""
  layer = s.layers(args.layer, "last")[0]
  fn = viz.feature_fn(s.model, layer)
  start = time.perf_counter()
  top = viz.top_activations(fn, s.variables, s.inputs.images, k=args.k)
  channels = _channels(args.channels, 16, top.values.shape[0], layer)
  shown = viz.hits(fn, s.variables, s.inputs.images, top, channels, rule=args.rule)
  seconds = time.perf_counter() - start
  side = int(np.ceil(np.sqrt(args.k)))
  blocks = []
  for j in range(len(channels)):
    projections = render.grid(np.stack([render.as_rgb(render.signed_to_pixels(p))
                                        for p in shown.projections[j]]), cols=side)
    patches = render.grid(np.stack([s.pixels(p) for p in shown.patches[j]]), cols=side)
    blocks.append(_row([projections, patches]))
  picture = render.grid(np.stack(blocks), cols=min(4, len(blocks)), gap=6)
  return {"layer": layer, "rule": args.rule, "num_images": len(s.inputs.images),
          "seconds": round(seconds, 2),
          "channels": [{"channel": c, "values": shown.values[j].tolist(),
                        "images": top.images[c].tolist(),
                        "positions": top.positions[c].tolist()}
                       for j, c in enumerate(channels)],
          "recompute_max_error": shown.max_error,
          "fields_inside_image": float(shown.inside.mean()),
          "files": [s.save(f"top9_{layer}.png", picture)]}


def occlusion(s: Subject, args) -> dict:
  """ZF Fig. 7: a grey square slid over each image."""
  plt = _pyplot()
  layer = s.layers(args.layer, "last")[0]
  size = args.size or max(2, s.image_shape[0] // 4)
  labels, results, files = s.labels(), {}, []
  for i, name in enumerate(s.inputs.names):
    maps = viz.occlusion_maps(viz.logits_fn(s.model), s.variables, s.inputs.images[i],
                              int(labels[i]), size=size, stride=args.stride,
                              feature_fn=viz.feature_fn(s.model, layer))
    results[name] = {"label": s.class_names[labels[i]], "layer": layer, **maps.as_dict()}
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
    axes[0].imshow(s.pixels(s.inputs.images[i]))
    axes[0].set_title(f"{name}: {s.class_names[labels[i]]} (p={maps.clean_prob:.2f})")
    # Each value is drawn where the square's centre was.
    half = (size - 1) / 2
    step = args.stride / 2
    extent = (maps.cols[0] + half - step, maps.cols[-1] + half + step,
              maps.rows[-1] + half + step, maps.rows[0] + half - step)
    classes = np.unique(maps.top_class)
    panels = [(maps.feature, f"{layer} map {maps.channel}: total activation", "viridis", {}),
              (maps.true_prob, f"p({s.class_names[labels[i]]})", "magma",
               {"vmin": 0, "vmax": 1}),
              (np.searchsorted(classes, maps.top_class), "most probable class",
               plt.get_cmap("tab10", len(classes)),
               {"vmin": -0.5, "vmax": len(classes) - 0.5})]
    for ax, (m, title, cmap, limits) in zip(axes[1:], panels):
      shown = ax.imshow(m, cmap=cmap, extent=extent, interpolation="nearest", **limits)
      ax.set_xlim(-0.5, s.image_shape[1] - 0.5)
      ax.set_ylim(s.image_shape[0] - 0.5, -0.5)
      ax.set_title(title)
      bar = fig.colorbar(shown, ax=ax, fraction=0.046)
    bar.set_ticks(range(len(classes)))
    bar.set_ticklabels([s.class_names[c] for c in classes])
    for ax in axes:
      ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(f"grey square {size}x{size}, stride {args.stride}: each value where the "
                 "square's centre was")
    files.append(s.save_figure(fig, f"occlusion_{name}.png", dpi=90, bbox_inches="tight"))
  return {"maps": results, "class_names": s.class_names, "files": files}


def evolution(s: Subject, args) -> dict:
  """ZF Fig. 4: the strongest hit of some channels at every checkpoint of the run."""
  steps = s.run.steps()
  if len(steps) < 2:
    raise ValueError(f"{s.run.workdir} has {len(steps)} checkpoint{'s' * (len(steps) != 1)}"
                     f" ({', '.join(map(str, steps)) or 'none'}); evolution needs 2 or more "
                     "(config.keep_checkpoints)")
  checkpoints = [(step, tasks.restore(s.run, step).variables) for step in steps]
  out, files = {}, []
  for layer in s.layers(args.layer, "all"):
    fn = viz.feature_fn(s.model, layer)
    available = jax.eval_shape(fn, s.variables, jnp.zeros((1, *s.image_shape))).shape[-1]
    channels = _channels(args.channels, 4, available, layer)
    start = time.perf_counter()
    ev = viz.feature_evolution(fn, checkpoints, s.inputs.images, channels, rule=args.rule)
    seconds = time.perf_counter() - start
    files.append(_evolution_figure(s, layer, ev))
    out[layer] = {"channels": channels, "values": ev.values.tolist(),
                  "images": ev.images.tolist(), "seconds": round(seconds, 2)}
  return {"steps": steps, "layers": out, "files": files}


def _evolution_figure(s: Subject, layer: str, ev: viz.Evolution) -> str:
  """Rows: channels; columns: checkpoints; each cell the strongest hit's projection."""
  plt = _pyplot()
  rows, cols = len(ev.channels), len(ev.steps)
  fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols + 0.6, 1.1 * rows + 0.5),
                           squeeze=False)
  for j, channel in enumerate(ev.channels):
    for k, step in enumerate(ev.steps):
      ax = axes[j][k]
      ax.imshow(render.as_rgb(render.signed_to_pixels(ev.projections[j, k])))
      ax.set_xticks([]), ax.set_yticks([])
      if j == 0:
        ax.set_title(f"step {step}", fontsize=7)
      if k == 0:
        ax.set_ylabel(f"map {channel}", fontsize=7)
  fig.suptitle(f"{layer}: strongest activation per checkpoint ({len(s.inputs.images)} images)",
               fontsize=8)
  return s.save_figure(fig, f"evolution_{layer}.png", dpi=100, bbox_inches="tight")


def invariance_(s: Subject, args) -> dict:
  """ZF Fig. 5: feature distances and the true class's probability under transforms."""
  plt = _pyplot()
  layers = s.layers(args.layer, "all")
  layers = layers if args.layer else list(dict.fromkeys([layers[0], layers[-1]]))  # first, last
  fns = {layer: viz.feature_fn(s.model, layer) for layer in layers}
  labels = s.labels()
  curves = {}
  fig, axes = plt.subplots(3, len(layers) + 1, figsize=(4 * (len(layers) + 1), 9))
  for row, kind in enumerate(invariance.KINDS):
    amounts = invariance.default_amounts(kind, s.image_shape[0])
    c = viz.invariance_curves(viz.logits_fn(s.model), fns, s.variables, s.inputs.images,
                              labels, kind, amounts)
    curves[kind] = c
    series = [(c["distance"][layer], f"{layer}: distance") for layer in layers]
    series.append((c["true_prob"], "p(true class)"))
    for ax, (values, title) in zip(axes[row], series):
      for name, v in zip(s.inputs.names, values):
        ax.plot(c["amounts"], v, marker=".", label=name)
      ax.set_title(title)
      ax.set_xlabel(invariance.KINDS[kind])
  axes[0][-1].legend(fontsize=7)
  fig.tight_layout()
  return {"images": s.inputs.names, "labels": [s.class_names[l] for l in labels],
          "curves": curves, "files": [s.save_figure(fig, "invariance.png", dpi=80)]}


def saliency(s: Subject, args) -> dict:
  """Gradient (Simonyan et al.), guided backpropagation and deconvnet of the class score."""
  labels = s.labels()
  projections = viz.class_projections(viz.logits_fn(s.model), s.variables,
                                      jnp.asarray(s.inputs.images), labels)
  rows = []
  for i in range(len(s.inputs.names)):
    magnitude = np.abs(projections["gradient"][i]).max(axis=-1, keepdims=True)
    rows.append(_row([s.pixels(s.inputs.images[i]),
                      render.as_rgb(render.range_to_pixels(magnitude)),
                      render.as_rgb(render.signed_to_pixels(projections["guided"][i])),
                      render.as_rgb(render.signed_to_pixels(projections["deconvnet"][i]))]))
  return {"columns": ["image", "|gradient|", "guided", "deconvnet"],
          "labels": [s.class_names[l] for l in labels],
          "files": [s.save("saliency.png", render.grid(np.stack(rows), cols=1, gap=4))]}


KINDS = {"filters": filters, "deconv": deconv, "top9": top9, "occlusion": occlusion,
         "evolution": evolution, "invariance": invariance_, "saliency": saliency}
