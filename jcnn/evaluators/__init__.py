"""Evaluators: small, one per file; `Evaluator(...).run(variables) -> metrics`.

Classification sums its metrics over batches with a per-example mask (`sums.total`), so
padded final batches and any number of devices give exact dataset-level numbers.
Detection gathers each image's detections on the host (padding examples dropped by the
same mask) and scores them against the split's annotations in original pixels.
"""
from jcnn.evaluators.classification import ClassificationEvaluator
from jcnn.evaluators.detection import DetectionEvaluator
from jcnn.evaluators.sums import jit_sums, total

__all__ = ["ClassificationEvaluator", "DetectionEvaluator", "jit_sums", "total"]
