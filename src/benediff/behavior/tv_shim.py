"""torchvision CPU shim (docs/BEHAVIOR.md §1). Import this before anything imports torchvision.

PyPI's torchvision 0.28.0 wheel links CUDA libraries that the CPU torch wheel lacks, so its
compiled extension fails to load silently and ``import torchvision`` then dies registering a
fake kernel for the undefined ``torchvision::nms``. If the extension does not load here, this
module defines the ``nms``/``qnms`` schemas with a pure-torch CPU kernel; if it loads (matching
wheels), it does nothing. Other compiled ops (roi_align, deform_conv2d) stay unavailable;
single-animal bottom-up DeepLabCut models do not use them.
"""

import importlib.util
from pathlib import Path

import torch

_LIBRARY = None  # keeps the torch.library registration alive
SCHEMAS = ("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
           "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


def nms_cpu(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: indices of kept boxes (x1, y1, x2, y2), best first."""
    order = torch.argsort(scores, descending=True, stable=True)
    boxes = dets[order].to(torch.float64)
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(int(order[i]))
        lt = torch.maximum(boxes[i, :2], boxes[i + 1:, :2])
        rb = torch.minimum(boxes[i, 2:], boxes[i + 1:, 2:])
        inter = (rb - lt).clamp(min=0).prod(dim=1)
        iou = inter / (area[i] + area[i + 1:] - inter)
        suppressed[i + 1:] |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=dets.device)


def _extension_loads() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # no torchvision: nothing to patch
    for lib in Path(next(iter(spec.submodule_search_locations))).glob("_C*.so"):
        try:
            torch.ops.load_library(str(lib))
            return True
        except (OSError, ImportError, RuntimeError):
            return False
    return False


def install() -> bool:
    """Register the CPU NMS ops if torchvision's extension cannot load; True if it patched."""
    global _LIBRARY
    if _LIBRARY is not None or _extension_loads():
        return False
    _LIBRARY = torch.library.Library("torchvision", "DEF")
    for schema in SCHEMAS:
        _LIBRARY.define(schema)
        _LIBRARY.impl(schema.split("(")[0], nms_cpu, "CPU")
    return True


PATCHED = install()
