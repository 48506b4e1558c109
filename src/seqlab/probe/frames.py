"""Words as frames, concepts as frame means, and top-k concept-guided decoding.

Paper: Valois, Souza, Shimomoto, Fukui, "Frame Representation Hypothesis: Multi-Token LLM
Interpretability and Concept-Guided Text Generation" (arXiv 2412.07334).

- **Word frame**: a word spelt by the tokens ``t_1 .. t_k`` is the ordered matrix
  ``F = [u(t_1), ..., u(t_k)]`` of ``(d, k)`` whose columns are the tokens' vectors (rows of the
  unembedding, here in the causal inner product of :func:`seqlab.probe.concepts.causal_unembedding`).
  The hypothesis rests on these columns being linearly independent (:func:`frame_rank` = ``k``).
- **Frames on the Stiefel manifold** ``St(d, k) = {Q : Q^T Q = I_k}``: :func:`orthonormal_frame`
  returns the polar factor ``U V^T`` of ``F = U S V^T`` (the nearest orthonormal frame in Frobenius
  norm: orthogonal Procrustes) or the ordered Gram-Schmidt basis (QR, column ``j`` spans the first
  ``j`` tokens).
- **Concept frame**: the frames of the words of one concept, zero-padded to ``k`` columns, are
  averaged on the manifold by the extrinsic Frechet mean
  ``C = argmin_{Q in St(d, k)} sum_i ||Q - F_i||_F^2 = polar(sum_i F_i)`` (:func:`concept_frame`;
  on ``St`` the term ``||Q||^2 = k`` is constant, so the minimiser maximises ``tr(Q^T sum_i F_i)``,
  whose maximiser is the polar factor: von Neumann's trace inequality).
- **Concept score** of a text frame ``X`` (``k`` consecutive token vectors) is the frame correlation
  ``<C, X>_F = tr(C^T X)``. Summed over all ``k``-windows of a token sequence zero-padded by ``k - 1``
  columns on both sides, every token ``v`` adds ``sum_j <c_j, u(v)> = <C 1, u(v)>``
  (:func:`token_concept_scores`), so a text's concept score is the sum of its tokens' scores.
- **Top-k concept-guided decoding** (:func:`concept_guided`): at every step, among the ``top_k`` most
  probable next tokens choose the one whose concept score is largest (``weight=inf``, the paper's rule),
  or maximise ``log p(v) + weight * score(v)``; ``weight = 0`` is greedy decoding. Runs over any model
  :mod:`seqlab.decode` runs over (``prefill`` / ``step``), one concept per row if wanted.

Text frames in the paper come from the last hidden states after each candidate:
:func:`concept_guided_hidden` does that (one batched step of ``B * top_k`` rows per token);
:func:`concept_guided` lets the candidate's own token vector stand in (one step of ``B`` rows).
"""

from __future__ import annotations

import math

import torch

from seqlab.decode.common import check_common, special_ids, token_loop
from seqlab.registry import Paper, register

PAPER = Paper(
    "Frame Representation Hypothesis: Multi-Token LLM Interpretability and Concept-Guided Text Generation",
    "2412.07334",
)


def _check_vectors(vectors) -> None:
    if not isinstance(vectors, torch.Tensor) or vectors.dim() != 2:
        raise ValueError(f"expected token vectors (V, d), got {getattr(vectors, 'shape', vectors)!r}")


def word_frame(vectors: torch.Tensor, token_ids) -> torch.Tensor:
    """The ``(d, k)`` frame of a word: the vectors of its ``k`` tokens as columns, in order."""
    _check_vectors(vectors)
    ids = torch.as_tensor(token_ids, dtype=torch.long).reshape(-1)
    if ids.numel() == 0:
        raise ValueError("a word frame needs at least one token id")
    if int(ids.min()) < 0 or int(ids.max()) >= vectors.shape[0]:
        raise ValueError(f"token ids must lie in [0, {vectors.shape[0]}), got {ids.tolist()}")
    return vectors[ids].T


def frame_rank(frame: torch.Tensor, rtol: float = 1e-6) -> int:
    """Numerical rank of a ``(d, k)`` frame: singular values above ``rtol * s_max``."""
    if frame.dim() != 2:
        raise ValueError(f"expected a frame (d, k), got shape {tuple(frame.shape)}")
    s = torch.linalg.svdvals(frame.double())
    return int((s > rtol * s.max()).sum()) if s.numel() and s.max() > 0 else 0


def orthonormal_frame(frame: torch.Tensor, method: str = "polar") -> torch.Tensor:
    """A point of ``St(d, k)`` from a full-rank ``(d, k)`` frame: the polar factor ``U V^T`` (nearest in
    Frobenius norm) or ``"qr"`` (ordered Gram-Schmidt, signs fixed so that ``R`` has a positive diagonal)."""
    if frame.dim() != 2 or frame.shape[0] < frame.shape[1]:
        raise ValueError(f"expected a frame (d, k) with d >= k, got shape {tuple(frame.shape)}")
    if frame_rank(frame) < frame.shape[1]:
        raise ValueError(f"the frame has rank {frame_rank(frame)} < k = {frame.shape[1]}: no unique basis")
    if method == "polar":
        U, _, Vh = torch.linalg.svd(frame, full_matrices=False)
        return U @ Vh
    if method == "qr":
        Q, R = torch.linalg.qr(frame)
        return Q * torch.sign(torch.diagonal(R))
    raise ValueError(f"unknown method {method!r}; valid: polar, qr")


def pad_frame(frame: torch.Tensor, k: int) -> torch.Tensor:
    """``frame`` with zero columns appended to ``k`` columns (more than ``k`` columns is an error)."""
    if frame.shape[1] > k:
        raise ValueError(f"a frame of {frame.shape[1]} tokens does not fit a concept frame of k = {k}")
    return torch.cat([frame, frame.new_zeros(frame.shape[0], k - frame.shape[1])], 1)


@register("probe", "concept_frame", implements=PAPER, used_by=[PAPER.title])
def concept_frame(frames: list[torch.Tensor], k: int | None = None) -> torch.Tensor:
    """The concept frame ``polar(sum_i pad(F_i, k))`` in ``St(d, k)``: the extrinsic Frechet mean of the
    word frames (``k`` defaults to the longest word)."""
    if not frames:
        raise ValueError("a concept frame needs at least one word frame")
    k = max(f.shape[1] for f in frames) if k is None else k
    total = sum(pad_frame(f.double(), k) for f in frames)
    if frame_rank(total) < k:
        raise ValueError(
            f"the summed word frames have rank {frame_rank(total)} < k = {k}: too few words of {k} tokens"
        )
    return orthonormal_frame(total, "polar")


def frame_correlation(concept: torch.Tensor, frame: torch.Tensor) -> float:
    """``<C, X>_F = tr(C^T X)`` between a concept frame and a text frame of the same shape."""
    if concept.shape != frame.shape:
        raise ValueError(
            f"frames must have the same shape, got {tuple(concept.shape)} and {tuple(frame.shape)}"
        )
    return float((concept.double() * frame.double()).sum())


def token_concept_scores(vectors: torch.Tensor, concept: torch.Tensor, standardise: bool = True):
    """``s(v) = <C 1, u(v)>`` for every token ``(V,)`` (``(B, V)`` for concepts ``(B, d, k)``): what a token
    adds to the summed window correlations; standardised over the vocabulary (mean 0, std 1) by default."""
    _check_vectors(vectors)
    if concept.shape[-2] != vectors.shape[1]:
        raise ValueError(
            f"concept frame dimension {concept.shape[-2]} != token vector dimension {vectors.shape[1]}"
        )
    scores = concept.double().sum(-1) @ vectors.double().T
    if standardise:
        scores = (scores - scores.mean(-1, keepdim=True)) / scores.std(-1, keepdim=True)
    return scores


def text_concept_score(scores: torch.Tensor, ids: torch.Tensor, exclude: int | None = None) -> torch.Tensor:
    """Mean token score of every row of ``ids (B, T)`` under per-row scores ``(B, V)`` (or one ``(V,)``);
    tokens equal to ``exclude`` (a pad id) are left out."""
    scores = scores.expand(ids.shape[0], -1) if scores.dim() == 1 else scores
    per_token = scores.gather(1, ids)
    keep = torch.ones_like(ids, dtype=torch.bool) if exclude is None else ids != exclude
    return (per_token * keep).sum(1) / keep.sum(1).clamp(min=1)


def _check_guidance(top_k, weight) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be an int >= 1, got {top_k!r}")
    if not isinstance(weight, (int, float)) or weight != weight or weight < 0:
        raise ValueError(f"weight must be a number >= 0 (inf: the paper's rule), got {weight!r}")


@register("probe", "concept_guided_decoding", implements=PAPER, used_by=[PAPER.title])
def concept_guided(
    lm,
    input_ids: torch.Tensor,
    concept_scores: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    top_k: int = 8,
    weight: float = math.inf,
    max_new_tokens: int = 16,
    eos_token_id="default",
    pad_token_id="default",
) -> torch.Tensor:
    """Top-k concept-guided decoding; ``(B, T + new)`` like :func:`seqlab.decode.generate`.

    ``concept_scores``: a score per token ``(V,)`` or per row and token ``(B, V)``, usually
    :func:`token_concept_scores` of a concept frame. Among the ``top_k`` most probable tokens, each step
    takes the argmax of ``score`` (``weight=inf``) or of ``log p + weight * score`` (``weight=0``: greedy).
    """
    _check_guidance(top_k, weight)
    mask = check_common(lm, input_ids, attention_mask, max_new_tokens, "concept_guided")
    V = getattr(lm, "vocab_size", None)
    B = input_ids.shape[0]
    if concept_scores.dim() == 1:
        concept_scores = concept_scores.expand(B, -1)
    if concept_scores.dim() != 2 or concept_scores.shape[0] != B or (V and concept_scores.shape[1] != V):
        raise ValueError(
            f"concept_scores must be (V,) or (B, V) = ({B}, {V}), got {tuple(concept_scores.shape)}"
        )
    eos, pad = special_ids(lm, eos_token_id, pad_token_id)
    scores = concept_scores.float()

    def choose(z: torch.Tensor) -> torch.Tensor:
        logp = z.log_softmax(-1)
        top = logp.topk(min(top_k, z.shape[-1]), dim=-1)
        s = scores[:, : z.shape[-1]].to(z.device).gather(1, top.indices)
        if math.isinf(weight):
            # the best score; ties go to the more probable (topk is sorted, argmax takes the first)
            pick = s.argmax(-1)
        else:
            pick = (top.values + weight * s).argmax(-1)
        return top.indices.gather(1, pick[:, None])[:, 0]

    return token_loop(lm, input_ids, mask, max_new_tokens, eos, pad, choose)


def _output_head(lm):
    head = getattr(lm, "head", None)
    if head is None and hasattr(lm, "model") and hasattr(lm.model, "get_output_embeddings"):
        head = lm.model.get_output_embeddings()
    if not isinstance(head, torch.nn.Module):
        raise ValueError(f"{type(lm).__name__} has no output head (head or model.get_output_embeddings())")
    return head


@register("probe", "concept_guided_hidden", implements=PAPER, used_by=[PAPER.title])
def concept_guided_hidden(
    lm,
    input_ids: torch.Tensor,
    direction: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    top_k: int = 8,
    weight: float = math.inf,
    max_new_tokens: int = 16,
    eos_token_id="default",
    pad_token_id="default",
) -> torch.Tensor:
    """Top-k concept-guided decoding scored on the model's last hidden state, as in the paper.

    Every step appends each of the ``top_k`` candidates to every row (one batched ``step`` of ``B * top_k``
    rows, the decoding state expanded with ``reorder_state``), reads the final hidden state ``h`` that the
    output head receives and scores the candidate by ``h . direction``; the best candidate (``weight=inf``)
    or the best ``log p + weight * score`` is kept with its state. ``direction``: ``(d,)`` or ``(B, d)`` in
    the hidden space, e.g. ``C 1`` for a concept frame of raw unembedding vectors (the window correlation of
    :func:`token_concept_scores` with the hidden state in the token's place). ``weight=0`` is greedy.
    """
    _check_guidance(top_k, weight)
    mask = check_common(lm, input_ids, attention_mask, max_new_tokens, "concept_guided_hidden")
    B = input_ids.shape[0]
    direction = direction.expand(B, -1) if direction.dim() == 1 else direction
    head = _output_head(lm)
    d = getattr(head, "in_features", None) or head.weight.shape[1]
    if direction.dim() != 2 or tuple(direction.shape) != (B, d):
        raise ValueError(f"direction must be ({d},) or ({B}, {d}), got {tuple(direction.shape)}")
    eos, pad = special_ids(lm, eos_token_id, pad_token_id)
    seen: list[torch.Tensor] = []
    handle = head.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        with torch.no_grad():
            logits, state = lm.prefill(input_ids, mask)
            out, running = input_ids, torch.ones(B, dtype=torch.bool, device=input_ids.device)
            for i in range(max_new_tokens):
                top = logits.float().log_softmax(-1).topk(min(top_k, logits.shape[-1]), dim=-1)
                k = top.indices.shape[1]
                state = lm.reorder_state(state, torch.arange(B, device=out.device).repeat_interleave(k))
                seen.clear()
                cand_logits, state = lm.step(top.indices.reshape(-1), state)
                h = seen[-1]
                h = (h[:, -1] if h.dim() == 3 else h).double()  # (B * k, d)
                s = (h * direction.double().to(h.device).repeat_interleave(k, 0)).sum(-1).view(B, k)
                pick = s.argmax(-1) if math.isinf(weight) else (top.values.double() + weight * s).argmax(-1)
                rows = torch.arange(B, device=out.device) * k + pick.to(out.device)
                nxt = top.indices.gather(1, pick[:, None].to(top.indices.device))[:, 0]
                if eos is not None:
                    nxt = torch.where(running, nxt, torch.full_like(nxt, pad))
                    running = running & (nxt != eos)
                out = torch.cat([out, nxt[:, None].to(out.dtype)], dim=1)
                if not bool(running.any()) or i == max_new_tokens - 1:
                    break
                state = lm.reorder_state(state, rows)
                logits = cand_logits[rows]
    finally:
        handle.remove()
    return out
