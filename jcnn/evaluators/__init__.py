"""Evaluators: small, one per file; `Evaluator(...).run(variables) -> metrics`.

Each sums its metrics over batches with a per-example mask (`sums.total`), so padded final
batches and any number of devices give exact dataset-level numbers.
"""
from jcnn.evaluators.classification import ClassificationEvaluator
from jcnn.evaluators.sums import jit_sums, total

__all__ = ["ClassificationEvaluator", "jit_sums", "total"]
