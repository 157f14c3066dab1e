"""Object detection building blocks: boxes, NMS, anchors, box coding, RoI ops, proposals,
training targets, post-processing, annotations and evaluation (R-CNN, SPP-net, Fast and
Faster R-CNN are made of these).

  iou = detection.box_iou(boxes_a, boxes_b)                         # [N, M]
  keep = detection.nms(boxes, scores, 0.7)                          # eager, variable length
  keep, count = detection.nms_padded(boxes, scores, 0.7, 2000)      # inside jax.jit
  anchors = detection.grid_anchors(detection.generate_anchors(),
                                   detection.feature_map_size((600, 800), 16), 16)
  boxes = detection.decode(deltas, anchors)                         # R-CNN box regression
  pooled = detection.roi_pool(conv5, rois, 7, spatial_scale=1 / 16)  # [K, 7, 7, C]
  proposals = detection.selective_search(image, "fast")             # [N, 4] ranked
  detection.draw_detections(image, boxes, labels, scores, class_names).save("out.png")
  # Faster R-CNN, one image each (jax.vmap over a batch), all jit-able, padded + masked:
  rpn = detection.anchor_targets(anchors, gt_boxes, gt_mask, (h, w), key)  # RPN labels
  props = detection.rpn_proposals(anchors, objectness, deltas, (h, w),
                                  pre_nms_top_n=6000, post_nms_top_n=300)
  rois = detection.proposal_targets(props.boxes, props.valid, gt_boxes, gt_labels,
                                    gt_mask, key)                   # the head's 128 RoIs
  found = detection.detect(props.boxes, props.valid, logits, box_deltas, (h, w))
  # R-CNN and SPP-net around their CNN: warped regions, SVMs, ridge box regression.
  crops = detection.rcnn.warp_regions(image, proposals, size=227, context=16)
"""
from jcnn.detection import rcnn
from jcnn.detection.anchors import feature_map_size
from jcnn.detection.anchors import generate_anchors
from jcnn.detection.anchors import grid_anchors
from jcnn.detection.data.annotations import COCO_CLASSES
from jcnn.detection.data.annotations import load_coco128
from jcnn.detection.data.annotations import load_coco_json
from jcnn.detection.data.annotations import load_csv
from jcnn.detection.data.annotations import load_raccoon
from jcnn.detection.data.annotations import load_tfds
from jcnn.detection.data.annotations import load_voc_dir
from jcnn.detection.data.annotations import load_yolo_dir
from jcnn.detection.data.annotations import read_voc_xml
from jcnn.detection.data.annotations import read_yolo_txt
from jcnn.detection.data.annotations import VOC_CLASSES
from jcnn.detection.box_coding import BBOX_XFORM_CLIP
from jcnn.detection.box_coding import decode
from jcnn.detection.box_coding import encode
from jcnn.detection.boxes import box_area
from jcnn.detection.boxes import box_iou
from jcnn.detection.boxes import clip_boxes
from jcnn.detection.boxes import convert_boxes
from jcnn.detection.draw import draw_detections
from jcnn.detection.evaluation import coco_evaluate
from jcnn.detection.evaluation import voc_ap
from jcnn.detection.evaluation import voc_curve
from jcnn.detection.evaluation import voc_evaluate
from jcnn.detection.nms import batched_nms
from jcnn.detection.nms import nms
from jcnn.detection.nms import nms_padded
from jcnn.detection.postprocess import detect
from jcnn.detection.postprocess import Detections
from jcnn.detection.proposals import selective_search
from jcnn.detection.proposals import sliding_windows
from jcnn.detection.region_proposals import Proposals
from jcnn.detection.region_proposals import rpn_proposals
from jcnn.detection.roi import roi_align
from jcnn.detection.roi import roi_pool
from jcnn.detection.roi import roi_spatial_pyramid_pool
from jcnn.detection.roi import spatial_pyramid_pool
from jcnn.detection.roi import spp_project_boxes
from jcnn.detection.targets import anchor_targets
from jcnn.detection.targets import AnchorTargets
from jcnn.detection.targets import proposal_targets
from jcnn.detection.targets import RoiTargets

__all__ = [
    "AnchorTargets",
    "BBOX_XFORM_CLIP",
    "COCO_CLASSES",
    "Detections",
    "Proposals",
    "RoiTargets",
    "VOC_CLASSES",
    "anchor_targets",
    "batched_nms",
    "box_area",
    "box_iou",
    "clip_boxes",
    "coco_evaluate",
    "convert_boxes",
    "decode",
    "detect",
    "draw_detections",
    "encode",
    "feature_map_size",
    "generate_anchors",
    "grid_anchors",
    "load_coco128",
    "load_coco_json",
    "load_csv",
    "load_raccoon",
    "load_tfds",
    "load_voc_dir",
    "load_yolo_dir",
    "nms",
    "nms_padded",
    "proposal_targets",
    "rcnn",
    "read_voc_xml",
    "read_yolo_txt",
    "roi_align",
    "roi_pool",
    "roi_spatial_pyramid_pool",
    "rpn_proposals",
    "selective_search",
    "sliding_windows",
    "spatial_pyramid_pool",
    "spp_project_boxes",
    "voc_ap",
    "voc_curve",
    "voc_evaluate",
]
