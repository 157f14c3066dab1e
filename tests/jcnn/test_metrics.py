"""Top-k accuracy and confusion matrix against hand cases, TF and scikit-learn."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import metrics


def test_top1_and_top5_hand_cases():
  logits = jnp.array([
      [0.1, 0.9, 0.0, 0.0, 0.0, 0.0],  # label 1: top-1
      [0.6, 0.5, 0.4, 0.3, 0.2, 0.1],  # label 4: fifth
      [0.6, 0.5, 0.4, 0.3, 0.2, 0.1],  # label 5: sixth
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # all tied: counts
  ])
  labels = jnp.array([1, 4, 5, 3])
  np.testing.assert_array_equal(metrics.topk_correct(logits, labels, 1),
                                [True, False, False, True])
  np.testing.assert_array_equal(metrics.topk_correct(logits, labels, 5),
                                [True, True, False, True])
  assert float(metrics.topk_accuracy(logits, labels)) == 0.5
  assert float(metrics.topk_accuracy(logits, labels, k=5)) == 0.75
  assert float(metrics.topk_accuracy(logits, labels, weights=jnp.array([1, 1, 1, 0]))) == (
      pytest.approx(1 / 3))
  assert float(metrics.topk_accuracy(logits, labels, weights=jnp.zeros(4))) == 0.0


def test_matches_tensorflow_in_top_k_with_ties_and_nan():
  tf = pytest.importorskip("tensorflow")
  rng = np.random.default_rng(0)
  logits = rng.integers(0, 4, (64, 10)).astype(np.float32)  # many ties
  logits[3, 7] = np.nan
  logits[5, 2] = np.inf
  labels = rng.integers(0, 10, 64).astype(np.int32)
  for k in (1, 3, 5):
    expected = tf.math.in_top_k(labels, logits, k).numpy()
    np.testing.assert_array_equal(metrics.topk_correct(logits, labels, k), expected)
  assert not metrics.topk_correct(logits, labels, 10)[3]


def test_topk_works_under_jit():
  logits = jnp.eye(4)
  accuracy = jax.jit(metrics.topk_accuracy, static_argnames="k")
  assert float(accuracy(logits, jnp.array([0, 1, 2, 0]), k=1)) == 0.75


@pytest.mark.parametrize("k", [0, 7, 2.0])
def test_bad_k_raises(k):
  with pytest.raises(ValueError, match=f"got {k}"):
    metrics.topk_correct(jnp.zeros((2, 6)), jnp.array([0, 1]), k)


def test_float_labels_raise():
  with pytest.raises(ValueError, match="float32"):
    metrics.topk_correct(jnp.zeros((2, 6)), jnp.array([0.0, 1.0]), 1)


def test_confusion_matrix_matches_sklearn_under_jit():
  sklearn_metrics = pytest.importorskip("sklearn.metrics")
  rng = np.random.default_rng(1)
  labels, predictions = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
  weights = rng.integers(0, 3, 200)
  confusion = jax.jit(metrics.confusion_matrix, static_argnums=2)
  actual = confusion(labels, predictions, 5)
  assert actual.dtype == jnp.int32
  np.testing.assert_array_equal(
      actual, sklearn_metrics.confusion_matrix(labels, predictions, labels=range(5)))
  np.testing.assert_array_equal(
      confusion(labels, predictions, 5, weights),
      sklearn_metrics.confusion_matrix(labels, predictions, labels=range(5),
                                       sample_weight=weights))


def test_confusion_matrix_rows_are_true_class_and_drops_out_of_range():
  cm = metrics.confusion_matrix(jnp.array([0, 0, 1, -1, 2]), jnp.array([1, 1, 1, 0, 3]), 3)
  np.testing.assert_array_equal(cm, [[0, 2, 0], [0, 1, 0], [0, 0, 0]])


def test_confusion_matrix_shape_mismatch_raises():
  with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
    metrics.confusion_matrix(jnp.zeros(3, int), jnp.zeros(2, int), 4)
