"""Dense peak TFLOP/s of NVIDIA GPUs, looked up by the exact name JAX gives the device, and MFU.

    from benchmarks import gpu_peaks
    gpu_peaks.mfu(153.8, "NVIDIA H200", "bfloat16")
    # {'peak': 'bf16', 'peak_tflop_per_s': 989.5, 'mfu': 0.1554}

The key is `jax.devices()[0].device_kind`, the CUDA device name, matched whole: a substring
would give an H100 PCIe ("NVIDIA H100 PCIe") the SXM's peaks ("NVIDIA H100 80GB HBM3") and an
L40S the L4's. A GPU that is not in the table has no MFU (`mfu` gives None with the reason),
never a neighbour's number.

The peaks are NVIDIA's datasheet figures without sparsity: the datasheets print the tensor-core
figures with 2:4 structured sparsity (marked *), twice the dense ones, and those are halved
here. JAX runs float32 matrix products and convolutions on TF32 tensor cores where the GPU has
them (its default precision on Ampere and later), so float32 work is measured against the TF32
peak there and against the plain FP32 peak on older GPUs.
"""
import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class Peaks:
  """One GPU's dense peaks in TFLOP/s; None where it has no tensor cores for that type."""
  slug: str  # its results file: benchmarks/results/gpu_<slug>.jsonl
  bf16: float | None
  tf32: float | None
  fp32: float


# Datasheet figures, dense; "* / 2" marks a sparse figure halved.
PEAKS = {
    # NVIDIA H100 Tensor Core GPU datasheet: SXM BF16 1,979* / 2, TF32 989* / 2, FP32 67;
    # PCIe BF16 1,513* / 2, TF32 756* / 2, FP32 51; NVL BF16 1,671* / 2, TF32 835* / 2, FP32 60.
    "NVIDIA H100 80GB HBM3": Peaks("h100_sxm", bf16=989.5, tf32=494.5, fp32=67),
    "NVIDIA H100 PCIe": Peaks("h100_pcie", bf16=756.5, tf32=378, fp32=51),
    "NVIDIA H100 NVL": Peaks("h100_nvl", bf16=835.5, tf32=417.5, fp32=60),
    # NVIDIA H200 Tensor Core GPU datasheet: SXM as the H100 SXM; NVL as the H100 NVL.
    "NVIDIA H200": Peaks("h200", bf16=989.5, tf32=494.5, fp32=67),
    "NVIDIA H200 NVL": Peaks("h200_nvl", bf16=835.5, tf32=417.5, fp32=60),
    # NVIDIA A100 Tensor Core GPU datasheet: BF16 312, TF32 156, FP32 19.5, the same for the
    # 40 and 80 GB boards, SXM4 and PCIe.
    "NVIDIA A100-SXM4-40GB": Peaks("a100_sxm4_40gb", bf16=312, tf32=156, fp32=19.5),
    "NVIDIA A100-SXM4-80GB": Peaks("a100_sxm4_80gb", bf16=312, tf32=156, fp32=19.5),
    "NVIDIA A100-PCIE-40GB": Peaks("a100_pcie_40gb", bf16=312, tf32=156, fp32=19.5),
    "NVIDIA A100 80GB PCIe": Peaks("a100_pcie_80gb", bf16=312, tf32=156, fp32=19.5),
    # NVIDIA A10 Tensor Core GPU datasheet: BF16 125, TF32 62.5, FP32 31.2.
    "NVIDIA A10": Peaks("a10", bf16=125, tf32=62.5, fp32=31.2),
    # NVIDIA L4 Tensor Core GPU datasheet: BF16 242* / 2, TF32 120* / 2, FP32 30.3.
    "NVIDIA L4": Peaks("l4", bf16=121, tf32=60, fp32=30.3),
    # NVIDIA L40 GPU datasheet: BF16 181.05, TF32 90.5, FP32 90.5.
    "NVIDIA L40": Peaks("l40", bf16=181.05, tf32=90.5, fp32=90.5),
    # NVIDIA L40S GPU datasheet: BF16 362.05, TF32 183, FP32 91.6.
    "NVIDIA L40S": Peaks("l40s", bf16=362.05, tf32=183, fp32=91.6),
    # NVIDIA V100 Tensor Core GPU datasheet: tensor cores for FP16 only; FP32 15.7 (SXM2),
    # 14 (PCIe).
    "Tesla V100-SXM2-16GB": Peaks("v100_sxm2_16gb", bf16=None, tf32=None, fp32=15.7),
    "Tesla V100-SXM2-32GB": Peaks("v100_sxm2_32gb", bf16=None, tf32=None, fp32=15.7),
    "Tesla V100-PCIE-16GB": Peaks("v100_pcie_16gb", bf16=None, tf32=None, fp32=14),
    "Tesla V100-PCIE-32GB": Peaks("v100_pcie_32gb", bf16=None, tf32=None, fp32=14),
    # NVIDIA T4 Tensor Core GPU datasheet: tensor cores for FP16 and integers only; FP32 8.1.
    "Tesla T4": Peaks("t4", bf16=None, tf32=None, fp32=8.1),
}


def slug(device_kind: str) -> str:
  """The results file's name for this device: the table's, else the name in lower case with
  its vendor word dropped ("NVIDIA B200" -> "b200", "cpu" -> "cpu")."""
  if device_kind in PEAKS:
    return PEAKS[device_kind].slug
  name = re.sub(r"^(nvidia|tesla)\s+", "", device_kind.strip().lower())
  return re.sub(r"[^a-z0-9]+", "_", name).strip("_") or "unknown"


def peak(device_kind: str, dtype: str) -> tuple[str, float]:
  """(which peak, TFLOP/s) that `dtype` compute runs at on this device.

  Raises:
    ValueError: `dtype` is neither float32 nor bfloat16.
    LookupError: the device is not in the table, or has no tensor cores for `dtype`.
  """
  if dtype not in ("float32", "bfloat16"):
    raise ValueError(f"no peak for dtype {dtype!r}: float32 or bfloat16")
  peaks = PEAKS.get(device_kind)
  if peaks is None:
    raise LookupError(f"{device_kind!r} is not in benchmarks/gpu_peaks.py's table")
  if dtype == "bfloat16":
    if peaks.bf16 is None:
      raise LookupError(f"{device_kind!r} has no bfloat16 tensor cores")
    return "bf16", peaks.bf16
  return ("tf32", peaks.tf32) if peaks.tf32 is not None else ("fp32", peaks.fp32)


def mfu(model_tflop_per_s: float, device_kind: str, dtype: str) -> tuple[dict, str | None]:
  """The fields a result line gets: `peak`, `peak_tflop_per_s` and `mfu` (model FLOPs per
  second over the peak), each None when there is no peak; and the reason, or None."""
  try:
    kind, tflops = peak(device_kind, dtype)
  except LookupError as e:
    return {"peak": None, "peak_tflop_per_s": None, "mfu": None}, f"mfu null: {e}"
  return {"peak": kind, "peak_tflop_per_s": tflops,
          "mfu": round(model_tflop_per_s / tflops, 4)}, None
