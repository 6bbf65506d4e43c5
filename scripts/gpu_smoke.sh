#!/usr/bin/env bash
# GPU smoke test (scripts/gpu_smoke.py --help): refuses a machine without a usable NVIDIA GPU
# at once (exit 2), before installing or importing anything heavy, then runs the checks.
#   scripts/gpu_smoke.sh [--checks a,b] [--keep] ...    last stdout line: the JSON summary
#   GPU_SMOKE_INSTALL=1 scripts/gpu_smoke.sh            install the requirements first
# PYTHON picks the interpreter (default: .venv/bin/python if present, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

for arg in "$@"; do
  case "$arg" in -h|--help) exec "$PYTHON" scripts/gpu_smoke.py --help ;; esac
done

die() { echo "gpu_smoke: $*" >&2; exit 2; }

command -v nvidia-smi >/dev/null 2>&1 \
  || die "no NVIDIA GPU here (nvidia-smi is not on PATH): the GPU smoke test needs a CUDA machine"
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
[ "${gpus:-0}" -gt 0 ] || die "nvidia-smi lists no GPU"

if [ "${GPU_SMOKE_INSTALL:-0}" = 1 ]; then
  # flash-attn and deepspeed build against the installed torch (--no-build-isolation), so torch
  # and their build tools go in first; torch===2.13.0 is the CUDA build (a local 2.13.0+cpu
  # wheel would satisfy ==2.13.0 and win); flash-attn compiles for this GPU's architecture only.
  "$PYTHON" -m pip install -r requirements.txt
  "$PYTHON" -m pip install setuptools wheel packaging psutil ninja 'torch===2.13.0'
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d ' ')
  FLASH_ATTN_CUDA_ARCHS=${FLASH_ATTN_CUDA_ARCHS:-${cap%%.*}0} MAX_JOBS=${MAX_JOBS:-4} \
    "$PYTHON" -m pip install --no-build-isolation -r requirements-gpu.txt
fi

"$PYTHON" -c 'import sys, torch
sys.exit(0 if torch.cuda.is_available() else
         f"torch {torch.__version__} cannot use the GPU (torch.version.cuda={torch.version.cuda})")' \
  || die "install the CUDA build of torch: pip install 'torch===2.13.0' (README: GPU smoke test)"

exec "$PYTHON" scripts/gpu_smoke.py "$@"
