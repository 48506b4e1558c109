"""CoCoMix: pretraining a small LM to predict and mix in a teacher's sparse-autoencoder concepts.

"LLM Pretraining with Continuous Concepts" (Tack et al., arXiv 2502.08524). Three parts:

1. **Concepts.** A TopK sparse autoencoder (:class:`seqlab.ops.sae.TopKSAE`) is trained on the
   hidden states ``x_t`` of one middle layer of a pretrained teacher (SmolLM2-135M here); its
   latents ``c_t = TopK(ReLU(W_enc (x_t - b_dec) + b_enc))`` are the concepts.
2. **Selection by attribution.** A concept matters for the next token when removing it would change
   the teacher's prediction; to first order (attribution patching) the effect of latent ``i`` on the
   log-likelihood ``l_t = log p_teacher(x_{t+1} | x_<=t)`` is

       a_{t,i} = c_{t,i} * (d l_t / d x_t) . W_dec[:, i]

   (the gradient reaches the latent through the decoder). The ``n_select`` concepts with the largest
   ``a_{t,i}`` are the targets of position ``t`` (:func:`select_concepts`).
3. **The student.** A small causal LM (:class:`CoCoMixLM`) runs its first ``concept_layer`` blocks,
   predicts concept logits ``z_t = W_z h_t`` (loss: cross-entropy of the selected concepts, averaged
   over them, weight ``lam``), compresses the ``k`` largest into a continuous concept vector
   ``c_hat_t = W_c TopK_k(z_t)`` and *interleaves* it with the hidden states,
   ``h_1, c_hat_1, h_2, c_hat_2, ...``, for the remaining blocks; the output at ``c_hat_t`` predicts
   token ``t + 1``. ``mode="plain"`` is the same network without concepts (next-token prediction only).

The teacher's activations and attribution gradients are computed once per text and cached on
disk (:func:`teacher_signals`, under :func:`seqlab.lm.weights_cache.cache_root`).
"""

from __future__ import annotations

import hashlib
import json

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.ops.sae import TopKSAE, topk_relu
from seqlab.registry import Paper, register

COCOMIX = Paper("LLM Pretraining with Continuous Concepts", "2502.08524")
MODES = ("cocomix", "plain")


def attribution(sae: TopKSAE, acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """``a_{t,i} = c_{t,i} * grads_t . W_dec[:, i]`` (n, n_latents): first-order effect of each concept
    on the teacher's next-token log-likelihood (``grads`` = d log p / d acts, (n, d))."""
    if acts.shape != grads.shape:
        raise ValueError(f"attribution: acts {tuple(acts.shape)} and grads {tuple(grads.shape)} must match")
    with torch.no_grad():
        return sae.encode(acts) * (grads @ sae.W_dec)


def select_concepts(scores: torch.Tensor, n_select: int) -> torch.Tensor:
    """Indices (n, n_select) of the concepts with the largest attribution per position."""
    if isinstance(n_select, bool) or not isinstance(n_select, int) or not 1 <= n_select <= scores.shape[-1]:
        raise ValueError(f"n_select must be an int in [1, {scores.shape[-1]}], got {n_select!r}")
    return scores.topk(n_select, dim=-1).indices


@register(
    "reasoner",
    "cocomix",
    implements=COCOMIX,
    used_by=[COCOMIX.title],
    description="small LM predicting a teacher's SAE concepts and interleaving continuous concept vectors",
)
class CoCoMixLM(nn.Module):
    """A causal LM (a RoPE-attention :class:`SequenceModel`) with CoCoMix's concept head and mixing."""

    def __init__(
        self,
        vocab_size: int,
        n_concepts: int,
        *,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        concept_layer: int = 1,
        k: int = 8,
        mode: str = "cocomix",
    ):
        super().__init__()
        from seqlab.reason.base import reasoning_model

        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if (
            isinstance(concept_layer, bool)
            or not isinstance(concept_layer, int)
            or not 1 <= concept_layer < n_layers
        ):
            raise ValueError(
                f"concept_layer must be an int in [1, n_layers - 1 = {n_layers - 1}], got {concept_layer!r}"
            )
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n_concepts:
            raise ValueError(f"k must be an int in [1, n_concepts = {n_concepts}], got {k!r}")
        self.lm = reasoning_model(vocab_size, d_model=d_model, n_layers=n_layers, n_heads=n_heads)
        self.mode, self.layer, self.k, self.n_concepts = mode, concept_layer, k, n_concepts
        self.to_concepts = nn.Linear(d_model, n_concepts)
        self.compress = nn.Linear(n_concepts, d_model)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Next-token logits (B, T, V) and, for CoCoMix, concept logits (B, T, n_concepts)."""
        lm = self.lm
        x = lm.input_embeddings(ids)
        if lm.pos is not None and getattr(lm.pos, "additive", True):
            raise ValueError("CoCoMixLM needs a model without additive positions (RoPE)")
        if self.mode == "plain":
            for block in lm.blocks:
                x = block(x)
            return lm.head(lm.norm(x)), None
        for block in lm.blocks[: self.layer]:
            x = block(x)
        z = self.to_concepts(x)
        c_hat = self.compress(topk_relu(z, self.k))
        B, T, d = x.shape
        mixed = torch.stack([x, c_hat], 2).reshape(B, 2 * T, d)  # h_1, c_1, h_2, c_2, ...
        for block in lm.blocks[self.layer :]:
            mixed = block(mixed)
        out = lm.norm(mixed)[:, 1::2]  # the output at c_hat_t predicts token t + 1
        return lm.head(out), z

    def loss(self, ids: torch.Tensor, concepts: torch.Tensor | None = None, lam: float = 0.1) -> dict:
        """``{"lm", "concept", "total"}``: next-token cross-entropy over ``ids`` (B, T) and, for
        CoCoMix, the concept loss on ``concepts`` (B, T - 1, n_select) selected concept indices of
        positions ``0 .. T - 2`` (the positions whose next token is known)."""
        logits, z = self(ids)
        lm_loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        if self.mode == "plain":
            return {"lm": lm_loss, "concept": torch.zeros(()), "total": lm_loss}
        if concepts is None or concepts.shape[:2] != (ids.shape[0], ids.shape[1] - 1):
            raise ValueError(
                "CoCoMix needs selected concepts (B, T - 1, n_select) for every predicted position"
            )
        logp = torch.log_softmax(z[:, :-1], -1)
        concept_loss = -logp.gather(-1, concepts).mean()
        return {"lm": lm_loss, "concept": concept_loss, "total": lm_loss + lam * concept_loss}


# -- the teacher's signals ----------------------------------------------------------------------
def lee_text() -> str:
    """The Lee background corpus shipped in gensim's wheel (news sentences, one document a line)."""
    import os

    from seqlab.tasks.text import gensim_data_dir

    with open(os.path.join(gensim_data_dir(), "lee_background.cor"), encoding="utf-8") as f:
        return f.read()


def teacher_signals(
    n_tokens: int, layer: int, heldout: int = 512, chunk: int = 128, name: str = "smollm2-135m"
) -> dict:
    """SmolLM2's hidden states at block ``layer`` and the gradient of each position's next-token
    log-likelihood of its chunk (``chunk`` tokens; so a position's gradient also carries its effect
    on the later predictions of the chunk), over the first ``n_tokens + 1`` tokens of the Lee
    corpus. Cached on disk. Returns ``ids`` (n_tokens + 1 + heldout,): the training text then
    ``heldout`` further tokens; ``acts`` and ``grads`` (n_tokens, d) for the training positions."""
    from safetensors.torch import load_file, save_file

    from seqlab.lm.weights_cache import cached_dir

    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < chunk:
        raise ValueError(f"n_tokens must be an int >= chunk ({chunk}), got {n_tokens!r}")
    key_src = json.dumps(
        {
            "text": "lee_background",
            "n": n_tokens,
            "heldout": heldout,
            "layer": layer,
            "chunk": chunk,
            "m": name,
        }
    )
    key = "cocomix-teacher-" + hashlib.sha256(key_src.encode()).hexdigest()[:16]

    def build(d):
        import seqlab.lm

        lm = seqlab.lm.load(name)
        if not 1 <= layer < lm.n_layers:
            raise ValueError(f"layer must lie in [1, {lm.n_layers - 1}], got {layer}")
        ids = lm.encode([lee_text()[: 12 * (n_tokens + heldout)]]).ids[0]
        if ids.shape[0] < n_tokens + 1 + heldout:
            raise ValueError(
                f"the Lee corpus gives {ids.shape[0]} tokens, fewer than {n_tokens + 1 + heldout}"
            )
        ids = ids[: n_tokens + 1 + heldout]
        acts, grads = [], []
        for s in range(0, n_tokens, chunk):
            x = ids[s : min(s + chunk + 1, n_tokens + 1)][None]
            emb = lm.input_embeddings(x).detach().requires_grad_(True)
            out = lm.forward_embeds(emb)
            h = out.hidden_states[layer]
            logp = torch.log_softmax(out.logits[0, :-1].float(), -1)
            ll = logp.gather(-1, x[0, 1:, None]).sum()  # each position's own next-token term
            (g,) = torch.autograd.grad(ll, h)
            acts.append(h[0, :-1].detach().float())
            grads.append(g[0, :-1].float())
        save_file(
            {
                "ids": ids.contiguous(),
                "acts": torch.cat(acts).contiguous(),
                "grads": torch.cat(grads).contiguous(),
            },
            str(d / "signals.safetensors"),
        )

    return load_file(str(cached_dir(key, build) / "signals.safetensors"))
