#!/usr/bin/env bash
# The GPU benchmarks in one go (a lent CUDA machine without network): fla against seqlab's chunked
# gated linear attention, then the mixer speed table on CUDA. Results and logs go to ${OUT:-results}.
# fla's two pure-Python wheels are expected under .whl/ (pip download fla-core flash-linear-attention).
set -o pipefail
OUT=${OUT:-results}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" | tee -a "$OUT/gpu.txt"
timeout "${FLA_TIMEOUT:-300}" python3 benchmarks/gla_vs_fla.py --out "$OUT/gla_vs_fla.json" 2>&1 \
  | grep -v '^W[0-9]' | tee "$OUT/gla_vs_fla.log"
timeout "${SPEED_TIMEOUT:-220}" python3 benchmarks/mixers.py --device cuda --out "$OUT/speed_cuda.json" 2>&1 \
  | tee "$OUT/speed_cuda.log"
