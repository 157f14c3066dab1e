"""R-CNN (Girshick et al. 2014) and SPP-net (He et al. 2014) as one staged run, each
stage's output kept in the run folder so a rerun skips what is done and a killed run
resumes in the stage it was in:

1. proposals (`proposals`): selective search on every image of the train and eval
   splits, cached in <workdir>/proposals/ (`jcnn.detection.proposal_cache`, resumed
   image by image); their recall at IoU 0.5 in <workdir>/proposals/recall.json;
2. supervised pre-training: `config.init_from`, a classification run of the same model
   and input size (every layer but the classifier's last is copied: `jcnn.tasks.init_from`);
3. fine-tuning on warped windows through the shared loop (`task.RCNN.training`): N + 1
   classes, IoU >= 0.5 foreground, batches of 128 with 32 foreground (the checkpoints;
   evaluated by the windows' top-1);
4. and 5. one linear SVM per class on `config.feature` (fc7's place) with hard-negative
   mining, and one ridge box regressor per class on `config.regression_feature`
   (pool5's), on features of the final checkpoint (`features`), fitted by
   `Task.finish` into <workdir>/detector.npz (`svms`);
6. test: every proposal scored by every SVM, NMS 0.3 per class, the kept boxes regressed
   (`svms.detector_evaluator`; `python -m eval detect`, `python -m eval predict`, as for
   Faster R-CNN).

`fields` holds the config both share, `task` the `RCNN` task that runs the stages in
order, `sppnet` the `SPPNet` variant (one conv pass per image instead of per window).
"""
from jcnn.tasks.rcnn.features import FeatureFn, largest_shape, padded_calls, stack_images
from jcnn.tasks.rcnn.fields import shared_fields, validate_shared
from jcnn.tasks.rcnn.proposals import proposals
from jcnn.tasks.rcnn.sppnet import SPPNet, geometry
from jcnn.tasks.rcnn.task import RCNN

__all__ = ["FeatureFn", "RCNN", "SPPNet", "geometry", "largest_shape",
           "padded_calls", "proposals", "shared_fields", "stack_images", "validate_shared"]
