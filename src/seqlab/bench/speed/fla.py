"""flash-linear-attention's plain-PyTorch chunked simple-GLA, loaded without importing Triton.

``naive_chunk_simple_gla`` lives in ``fla/ops/simple_gla/naive.py``; importing the ``fla`` package
would import Triton, so the file is loaded by path. Used by check (c) of the speed benchmark and by
``benchmarks/gla_vs_fla.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

HINT = "flash-linear-attention is not installed: `pip install seqlab[bench]` to run check (c)"


def load_fla_naive():
    """``naive_chunk_simple_gla`` loaded from its file, or None when fla (or einops) is missing."""
    try:
        spec = importlib.util.find_spec("fla")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations or importlib.util.find_spec("einops") is None:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "ops" / "simple_gla" / "naive.py"
    if not path.is_file():
        return None
    mod_spec = importlib.util.spec_from_file_location("_fla_simple_gla_naive", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module.naive_chunk_simple_gla
