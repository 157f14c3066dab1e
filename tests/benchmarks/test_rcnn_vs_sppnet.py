"""benchmarks/rcnn_vs_sppnet.py times an image's functions in shared rounds, so the whole
CNN and its part to pool5 are paired timings, not two timings minutes apart."""
from benchmarks import rcnn_vs_sppnet


def test_every_round_runs_each_function_once_after_all_have_warmed_up():
  calls = []
  fns = {name: (lambda name=name: calls.append(name),
                lambda name=name: calls.append(f"warm {name}"))
         for name in ("rcnn_cnn", "rcnn_pool5", "sppnet_cnn")}
  medians = rcnn_vs_sppnet._interleaved_medians(fns, repeats=3)
  assert calls == ["warm rcnn_cnn", "warm rcnn_pool5", "warm sppnet_cnn"] + [
      "rcnn_cnn", "rcnn_pool5", "sppnet_cnn"] * 3
  assert list(medians) == ["rcnn_cnn", "rcnn_pool5", "sppnet_cnn"]
  assert all(seconds >= 0 for seconds in medians.values())
