"""Optimizers and learning-rate schedules from a config, with optax.

Recipes: the classic MNIST one (0.01 × 0.99 per epoch, momentum), the ResNet/VGG one
(÷10 at given steps), cosine decay, each after an optional linear warm-up; and for
fine-tuning, AdamW, parameters frozen and learning rates per group of parameters
(chosen by their paths, `jcnn.param_paths`).
"""
import math
import re

import optax

from jcnn import losses, param_paths

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "exponential", "step", "cosine")


def make_schedule(config, steps_per_epoch: int, total_steps: int) -> optax.Schedule:
  """The learning-rate schedule named by `config.schedule`, after a warm-up.

  The warm-up (`warmup_epochs`) rises linearly from 0 to `learning_rate`. Cosine decay
  then spans the rest of the run; the other schedules go on as without a warm-up, as
  timm's do (step boundaries and exponential's epochs count from step 0), so a step
  boundary inside the warm-up is refused.

  Args:
    config: reads `learning_rate`, `schedule`, `warmup_epochs`, and per schedule
      `decay_rate` (exponential, per epoch), `boundaries` and `decay_factor` (step).
    steps_per_epoch: optimizer steps per epoch.
    total_steps: length of the run.

  Returns:
    step -> learning rate.
  """
  lr = config.learning_rate
  name = config.schedule
  warmup = int(config.warmup_epochs * steps_per_epoch)
  if name == "cosine":
    return optax.warmup_cosine_decay_schedule(0.0, lr, warmup_steps=warmup,
                                              decay_steps=max(total_steps, warmup + 1))
  if name == "constant":
    after = optax.constant_schedule(lr)
  elif name == "exponential":
    after = optax.exponential_decay(lr, transition_steps=steps_per_epoch,
                                    decay_rate=config.decay_rate, staircase=True)
  elif name == "step":
    for boundary in config.boundaries:
      if int(boundary) < warmup:
        raise ValueError(f"config.boundaries holds step {boundary}, inside the {warmup}-step "
                         f"warm-up (config.warmup_epochs={config.warmup_epochs})")
    after = optax.piecewise_constant_schedule(
        lr, {int(b): config.decay_factor for b in config.boundaries})
  else:
    raise ValueError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")
  if not warmup:
    return after
  # join_schedules counts the second schedule's steps from the boundary: shift them back.
  return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup),
                               lambda step: after(step + warmup)], [warmup])


def make_optimizer(config, schedule: optax.Schedule) -> optax.GradientTransformation:
  """The optimizer named by `config.optimizer`, with the parameter groups the config asks.

  Weight decay is an L2 term of the loss (`jcnn.losses.l2_penalty`, `weight_decay`), as
  in the classic recipes; AdamW's decoupled decay (Loshchilov & Hutter 2019) is
  `adamw_weight_decay` instead, on the same leaves (`weight_decay_subset`). Then:
  - `grad_clip_norm`: gradients clipped to that global norm (of the trained parameters);
  - `lr_multipliers`: each parameter's update times the factor of the first regex that
    matches its path: its learning rate times the factor, as a PyTorch parameter group
    (every optimizer here gives updates proportional to the rate, AdamW's decay too);
  - `freeze`: parameters whose path matches get no update and no optimizer state.
  A regex that chooses no parameter is refused when the optimizer is initialised.
  """
  opt = _base(config, schedule)
  groups = lr_multipliers(config)
  if groups:
    labels = [f"group{i}" for i in range(len(groups))]  # orbax-safe names, not regexes
    opt = optax.chain(opt, optax.multi_transform(
        {"others": optax.identity(),
         **{lbl: optax.scale(factor) for lbl, (_, factor) in zip(labels, groups)}},
        lambda params: _group_labels(params, groups, labels)))
  if config.grad_clip_norm:
    opt = optax.chain(optax.clip_by_global_norm(config.grad_clip_norm), opt)
  if config.freeze:
    opt = optax.multi_transform({"frozen": optax.set_to_zero(), "trained": opt},
                                lambda params: _freeze_labels(params, config))
  return opt


def frozen(config, path: str) -> bool:
  """Whether `config.freeze` freezes the parameter at `path` ("conv1/kernel")."""
  return bool(config.freeze) and re.search(config.freeze, path) is not None


def lr_multipliers(config) -> list[tuple[str, float]]:
  """`config.lr_multipliers` ("regex=factor" strings) as (regex, factor) pairs, in order;
  a malformed one is a ValueError naming it."""
  pairs = []
  for entry in config.lr_multipliers:
    regex, sep, factor = str(entry).rpartition("=")
    try:
      value = float(factor)
      re.compile(regex)
    except (ValueError, re.error):
      value = None
    if not sep or not regex or value is None or not math.isfinite(value) or value <= 0:
      raise ValueError(f"config.lr_multipliers entry {entry!r} must be 'regex=factor' with a "
                       "regular expression and a factor > 0, e.g. 'conv=0.1' (config.freeze "
                       "stops parameters altogether)")
    pairs.append((regex, value))
  return pairs


def _base(config, schedule: optax.Schedule) -> optax.GradientTransformation:
  name = config.optimizer
  if name == "sgd":
    return optax.sgd(schedule)
  if name in ("momentum", "nesterov"):
    return optax.sgd(schedule, momentum=config.momentum, nesterov=name == "nesterov")
  if name == "adam":
    return optax.adam(schedule)
  if name == "adamw":
    return optax.adamw(schedule, weight_decay=config.adamw_weight_decay,
                       mask=lambda params: losses.penalised(params,
                                                            config.weight_decay_subset))
  if name == "rmsprop":
    return optax.rmsprop(schedule, decay=0.9, momentum=config.momentum)
  raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")


def _freeze_labels(params, config):
  param_paths.check_chooses(config.freeze, param_paths.names(params), "freeze")
  return param_paths.label(
      lambda path: "frozen" if frozen(config, path) else "trained", params)


def _group_labels(params, groups: list[tuple[str, float]], labels: list[str]):
  """Each leaf's group: the first regex matching its path, else "others". `params` are
  the trained ones (frozen leaves are optax's empty `MaskedNode`s here)."""

  def group(path):
    return next((lbl for lbl, (regex, _) in zip(labels, groups) if re.search(regex, path)),
                "others")

  tree = param_paths.label(group, params)
  chosen = {group(path) for path in param_paths.names(params)}
  for lbl, (regex, factor) in zip(labels, groups):
    if lbl not in chosen:
      raise ValueError(f"config.lr_multipliers entry {regex}={factor:g} sets the rate of no "
                       f"trained parameter: no path matches {regex!r}, or an earlier entry "
                       "takes every one that does (the first match wins)")
  return tree
