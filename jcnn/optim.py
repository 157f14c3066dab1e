"""Optimizers and learning-rate schedules from a config, with optax.

Recipes: the classic MNIST one (0.01 × 0.99 per epoch, momentum), the ResNet/VGG one
(÷10 at given steps), and cosine decay with linear warmup.
"""
import optax

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop")
SCHEDULES = ("constant", "exponential", "step", "cosine")


def make_schedule(config, steps_per_epoch: int, total_steps: int) -> optax.Schedule:
  """The learning-rate schedule named by `config.schedule`.

  Args:
    config: reads `learning_rate`, `schedule`, and per schedule `decay_rate`
      (exponential, per epoch), `boundaries` and `decay_factor` (step),
      `warmup_epochs` (cosine).
    steps_per_epoch: optimizer steps per epoch.
    total_steps: length of the run.

  Returns:
    step -> learning rate.
  """
  lr = config.learning_rate
  name = config.schedule
  if name == "constant":
    return optax.constant_schedule(lr)
  if name == "exponential":
    return optax.exponential_decay(lr, transition_steps=steps_per_epoch,
                                   decay_rate=config.decay_rate, staircase=True)
  if name == "step":
    return optax.piecewise_constant_schedule(
        lr, {int(b): config.decay_factor for b in config.boundaries})
  if name == "cosine":
    warmup = int(config.warmup_epochs * steps_per_epoch)
    return optax.warmup_cosine_decay_schedule(0.0, lr, warmup_steps=warmup,
                                              decay_steps=max(total_steps, warmup + 1))
  raise ValueError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")


def make_optimizer(config, schedule: optax.Schedule) -> optax.GradientTransformation:
  """The optimizer named by `config.optimizer`, with optional gradient clipping.

  Weight decay is not here: it is an L2 term of the loss (`jcnn.losses.l2_penalty`),
  as in the classic recipes.
  """
  name = config.optimizer
  if name == "sgd":
    opt = optax.sgd(schedule)
  elif name in ("momentum", "nesterov"):
    opt = optax.sgd(schedule, momentum=config.momentum, nesterov=name == "nesterov")
  elif name == "adam":
    opt = optax.adam(schedule)
  elif name == "rmsprop":
    opt = optax.rmsprop(schedule, decay=0.9, momentum=config.momentum)
  else:
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
  if config.grad_clip_norm:
    opt = optax.chain(optax.clip_by_global_norm(config.grad_clip_norm), opt)
  return opt
