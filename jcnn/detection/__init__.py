"""Object detection building blocks: boxes, NMS, anchors, box coding, RoI ops, proposals,
annotations and evaluation (R-CNN, SPP-net, Fast and Faster R-CNN are made of these).

  iou = detection.box_iou(boxes_a, boxes_b)                         # [N, M]
  keep = detection.nms(boxes, scores, 0.7)                          # eager, variable length
  keep, count = detection.nms_padded(boxes, scores, 0.7, 2000)      # inside jax.jit
  anchors = detection.grid_anchors(detection.generate_anchors(),
                                   detection.feature_map_size((600, 800), 16), 16)
  boxes = detection.decode(deltas, anchors)                         # R-CNN box regression
  pooled = detection.roi_pool(conv5, rois, 7, spatial_scale=1 / 16)  # [K, 7, 7, C]
  proposals = detection.selective_search(image, "fast")             # [N, 4] ranked
"""
from jcnn.detection.anchors import feature_map_size
from jcnn.detection.anchors import generate_anchors
from jcnn.detection.anchors import grid_anchors
from jcnn.detection.annotations import COCO_CLASSES
from jcnn.detection.annotations import load_coco128
from jcnn.detection.annotations import load_csv
from jcnn.detection.annotations import load_raccoon
from jcnn.detection.annotations import load_tfds
from jcnn.detection.annotations import load_voc_dir
from jcnn.detection.annotations import load_yolo_dir
from jcnn.detection.annotations import read_voc_xml
from jcnn.detection.annotations import read_yolo_txt
from jcnn.detection.annotations import VOC_CLASSES
from jcnn.detection.box_coding import BBOX_XFORM_CLIP
from jcnn.detection.box_coding import decode
from jcnn.detection.box_coding import encode
from jcnn.detection.boxes import box_area
from jcnn.detection.boxes import box_iou
from jcnn.detection.boxes import clip_boxes
from jcnn.detection.boxes import convert_boxes
from jcnn.detection.evaluation import coco_evaluate
from jcnn.detection.evaluation import voc_ap
from jcnn.detection.evaluation import voc_evaluate
from jcnn.detection.nms import batched_nms
from jcnn.detection.nms import nms
from jcnn.detection.nms import nms_padded
from jcnn.detection.proposals import selective_search
from jcnn.detection.proposals import sliding_windows
from jcnn.detection.roi import roi_align
from jcnn.detection.roi import roi_pool
from jcnn.detection.roi import roi_spatial_pyramid_pool
from jcnn.detection.roi import spatial_pyramid_pool
from jcnn.detection.roi import spp_project_boxes

__all__ = [
    "BBOX_XFORM_CLIP",
    "COCO_CLASSES",
    "VOC_CLASSES",
    "batched_nms",
    "box_area",
    "box_iou",
    "clip_boxes",
    "coco_evaluate",
    "convert_boxes",
    "decode",
    "encode",
    "feature_map_size",
    "generate_anchors",
    "grid_anchors",
    "load_coco128",
    "load_csv",
    "load_raccoon",
    "load_tfds",
    "load_voc_dir",
    "load_yolo_dir",
    "nms",
    "nms_padded",
    "read_voc_xml",
    "read_yolo_txt",
    "roi_align",
    "roi_pool",
    "roi_spatial_pyramid_pool",
    "selective_search",
    "sliding_windows",
    "spatial_pyramid_pool",
    "spp_project_boxes",
    "voc_ap",
    "voc_evaluate",
]
