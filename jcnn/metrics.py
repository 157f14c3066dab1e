"""Classification metrics: top-k accuracy and the confusion matrix."""
import jax
import jax.numpy as jnp


def topk_correct(logits: jax.Array, labels: jax.Array, k: int) -> jax.Array:
  """Whether each label is among the k highest logits, as `tf.math.in_top_k`.

  Ties go in the label's favour: it counts when fewer than k classes have a
  strictly larger logit, so with all logits equal every label is correct.
  A row with any non-finite logit, or a label outside [0, num_classes), is
  incorrect, so a diverged model (NaN logits) scores 0, not 100%.

  Args:
    logits: [batch, num_classes].
    labels: integer class ids [batch].
    k: a Python int in [1, num_classes].

  Returns:
    bool [batch].
  """
  logits, labels = jnp.asarray(logits), jnp.asarray(labels)
  num_classes = logits.shape[-1]
  if not isinstance(k, int) or not 1 <= k <= num_classes:
    raise ValueError(f"k must be an int in [1, {num_classes}] for logits "
                     f"{logits.shape}, got {k!r}")
  if logits.ndim != 2 or labels.shape != logits.shape[:1]:
    raise ValueError(f"need logits [batch, num_classes] and labels [batch], got "
                     f"{logits.shape} and {labels.shape}")
  if not jnp.issubdtype(labels.dtype, jnp.integer):
    raise ValueError(f"labels must be integer class ids, got dtype {labels.dtype}")
  in_range = (labels >= 0) & (labels < num_classes)
  safe_labels = jnp.where(in_range, labels, 0)
  label_logit = jnp.take_along_axis(logits, safe_labels[:, None], axis=-1)
  num_larger = jnp.sum(logits > label_logit, axis=-1)
  finite = jnp.all(jnp.isfinite(logits), axis=-1)
  return in_range & finite & (num_larger < k)


def topk_accuracy(logits: jax.Array, labels: jax.Array, k: int = 1,
                  weights: jax.Array | None = None) -> jax.Array:
  """Fraction of examples whose label is in the top k (tie rule of `topk_correct`).

  Args:
    logits: [batch, num_classes].
    labels: integer class ids [batch].
    k: a Python int in [1, num_classes].
    weights: optional [batch], e.g. a 0/1 mask for padded batches; the
      accuracy is then the weighted mean, and 0 when every weight is 0.

  Returns:
    A float32 scalar.
  """
  correct = topk_correct(logits, labels, k).astype(jnp.float32)
  if weights is None:
    return jnp.mean(correct)
  if weights.shape != correct.shape:
    raise ValueError(f"weights must have shape {correct.shape}, got {weights.shape}")
  count = jnp.sum(weights)
  total = jnp.sum(correct * weights)
  return jnp.where(count > 0, total / jnp.where(count > 0, count, 1), 0.0)


def confusion_matrix(labels: jax.Array, predictions: jax.Array, num_classes: int,
                     weights: jax.Array | None = None) -> jax.Array:
  """Counts (true class, predicted class) pairs; jit-compatible for fixed num_classes.

  Class ids outside [0, num_classes) are not counted.

  Args:
    labels: integer true class ids, any shape.
    predictions: integer predicted class ids, shaped like `labels`.
    num_classes: K, a Python int.
    weights: optional integer-valued counts shaped like `labels`, e.g. a 0/1 mask
      for padded batches; cast to int32.

  Returns:
    int32 [K, K]: row = true class, column = predicted class.
  """
  labels, predictions = jnp.asarray(labels), jnp.asarray(predictions)
  if labels.shape != predictions.shape:
    raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} "
                     "must have the same shape")
  if weights is not None and weights.shape != labels.shape:
    raise ValueError(f"weights must have shape {labels.shape}, got {weights.shape}")
  labels = labels.reshape(-1)
  predictions = predictions.reshape(-1)
  valid = ((labels >= 0) & (labels < num_classes)
           & (predictions >= 0) & (predictions < num_classes))
  # Invalid pairs go to index K*K, past `length`, where bincount drops them.
  flat = jnp.where(valid, labels * num_classes + predictions, num_classes ** 2)
  counts = jnp.ones_like(labels, jnp.int32) if weights is None else (
      weights.reshape(-1).astype(jnp.int32))
  return jnp.bincount(flat, counts, length=num_classes ** 2).reshape(
      num_classes, num_classes)
