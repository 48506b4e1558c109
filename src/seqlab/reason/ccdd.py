"""CCDD: one denoiser for a joint continuous + discrete diffusion over a reasoning trace.

"Coevolutionary Continuous Discrete Diffusion: Make Your Diffusion Language Model a Latent
Reasoner" (Zhou et al., arXiv 2510.03206). The generated part of a sequence (here the chain of
thought and the answer after a clean question) lives in two spaces at once: discrete tokens
``x`` and their continuous representations ``e = C[x]`` (``C``: a fixed token code table, ``d_c``
wide). Both are noised at one shared time ``t`` in ``[0, 1]``:

- discrete, masked (absorbing) diffusion: ``x_t^i = x^i`` with probability ``alpha(t) = 1 - t``,
  else ``MASK`` (:func:`mask_tokens`);
- continuous, variance-preserving Gaussian diffusion: ``z_t = sqrt(abar(t)) e + sqrt(1 - abar(t)) eps``
  with ``abar(t) = cos^2(pi t / 2)`` (:func:`noise_codes`).

A single bidirectional transformer reads ``Emb(x_t) + W_z z_t + W_t t`` at each generated
position (the question's tokens are clean) and predicts both clean values: token logits (loss:
cross-entropy on the masked positions) and ``e_hat`` (loss: mean squared error). Sampling
(:meth:`CCDD.sample`) walks ``t`` from 1 to 0 in ``S`` steps; between ``t`` and ``s < t`` each
still-masked token is revealed with probability ``(t - s) / t`` (its argmax, or a draw), and the
codes take the deterministic DDIM step ``z_s = sqrt(abar(s)) e_hat + sqrt(1 - abar(s)) eps_hat``,
``eps_hat = (z_t - sqrt(abar(t)) e_hat) / sqrt(1 - abar(t))``. ``mode="discrete"`` is the same
network with the continuous channel switched off: a plain masked diffusion language model.

The paper's continuous side is a pretrained LM's representation space. By default ``C`` is a
fixed random table; ``codes=`` takes any ``(vocab_size, d_code)`` table instead, and
:func:`lm_token_codes` builds one from a pretrained LM's input embeddings (e.g. SmolLM2): each task
token's string (:func:`task_token_strings`) is embedded as the mean of the LM's input embeddings of
its sub-word pieces, ``E`` (V, D); :func:`embedding_codes` centres ``E``, projects it onto its top
``d_code`` principal directions (``(E - mean) V_k``, ``V_k`` from the SVD) and scales each row to
unit norm (the random codes' expected norm).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.reason.base import check_batch
from seqlab.registry import Paper, register

CCDD_PAPER = Paper(
    "Coevolutionary Continuous Discrete Diffusion: Make Your Diffusion Language Model a Latent Reasoner",
    "2510.03206",
)
MODES = ("joint", "discrete")
SPECIAL_NAMES = ("<pad>", "<think>", "</think>", ";")  # PAD, BOT, EOT, SEP of seqlab.tasks.reasoning_base


def task_token_strings(task) -> list[str]:
    """One string per task token id: the special tokens' names, then what each token stands for
    (``decode_step``, else ``decode_answer``; booleans as yes/no; ``<id>`` when neither applies)."""
    out = []
    for i in range(task.vocab_size):
        if i < len(SPECIAL_NAMES):
            out.append(SPECIAL_NAMES[i])
            continue
        value = None
        for read in (task.decode_step, task.decode_answer):
            try:
                value = read(i)
                break
            except (ValueError, KeyError, IndexError):
                continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        out.append(f"<{i}>" if value is None else str(value))
    return out


def embedding_codes(vectors: torch.Tensor, d_code: int) -> torch.Tensor:
    """Rows of ``vectors`` (V, D), centred, on their top ``d_code`` principal directions, unit norm."""
    if not isinstance(vectors, torch.Tensor) or vectors.dim() != 2:
        raise ValueError(f"embedding_codes expects a (tokens, dim) tensor, got {type(vectors).__name__}")
    V, D = vectors.shape
    if isinstance(d_code, bool) or not isinstance(d_code, int) or not 1 <= d_code <= min(V - 1, D):
        raise ValueError(
            f"d_code must be an int in [1, min(tokens - 1, dim)] = [1, {min(V - 1, D)}], got {d_code!r}"
        )
    x = vectors.double() - vectors.double().mean(0)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    proj = x @ vh[:d_code].T
    return (proj / proj.norm(dim=1, keepdim=True).clamp_min(1e-12)).float()


@torch.no_grad()
def lm_token_codes(lm, strings: list[str], d_code: int) -> torch.Tensor:
    """Codes (len(strings), d_code) from ``lm``'s input embeddings: each string's mean sub-word
    embedding (``lm.encode`` + ``lm.input_embeddings``), then :func:`embedding_codes`."""
    enc = lm.encode(list(strings))
    emb = lm.input_embeddings(enc.ids).float()
    mask = enc.mask[..., None].float()
    mean = (emb * mask).sum(1) / mask.sum(1).clamp_min(1)
    return embedding_codes(mean, d_code)


def alpha_bar(t: torch.Tensor) -> torch.Tensor:
    """The continuous signal level ``cos^2(pi t / 2)`` (1 at t = 0, 0 at t = 1)."""
    return torch.cos(t * math.pi / 2) ** 2


def mask_tokens(x: torch.Tensor, t: torch.Tensor, mask_id: int, u: torch.Tensor) -> torch.Tensor:
    """Absorbing forward process: ``x`` where ``u >= t`` (probability ``1 - t``), else ``mask_id``.
    ``x``, ``u`` (n, L); ``t`` (n,)."""
    return torch.where(u < t[:, None], torch.full_like(x, mask_id), x)


def noise_codes(e: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Gaussian forward process ``sqrt(abar) e + sqrt(1 - abar) eps``; ``e``, ``eps`` (n, L, d); ``t`` (n,)"""
    ab = alpha_bar(t)[:, None, None]
    return ab.sqrt() * e + (1 - ab).sqrt() * eps


@register(
    "reasoner",
    "ccdd",
    implements=CCDD_PAPER,
    used_by=[CCDD_PAPER.title],
    description="joint masked-token + Gaussian-embedding diffusion with one denoiser (or discrete only)",
)
class CCDD(nn.Module):
    """Denoiser and sampler over ``trace + answer`` given a question (see the module docstring).

    ``vocab_size``: the task's vocabulary (``MASK`` is one more id); ``length``: generated positions.
    """

    def __init__(
        self,
        vocab_size: int,
        length: int,
        *,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        d_code: int = 16,
        mode: str = "joint",
        code_seed: int = 0,
        codes: torch.Tensor | None = None,
    ):
        super().__init__()
        from seqlab.models import SequenceModel

        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        for name, v in (("vocab_size", vocab_size), ("length", length), ("d_code", d_code)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"CCDD: {name} must be an int >= 1, got {v!r}")
        self.mode, self.length, self.mask_id = mode, length, vocab_size
        self.net = SequenceModel(
            mixer="attention",
            d_model=d_model,
            n_layers=n_layers,
            vocab_size=vocab_size + 1,
            mixer_cfg={"n_heads": n_heads, "causal": False},
        )
        if codes is None:
            g = torch.Generator().manual_seed(code_seed)
            table = torch.randn(vocab_size + 1, d_code, generator=g) / math.sqrt(d_code)
        else:
            if not isinstance(codes, torch.Tensor) or tuple(codes.shape) != (vocab_size, d_code):
                got = tuple(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
                raise ValueError(
                    f"CCDD: codes must be a (vocab_size, d_code) = ({vocab_size}, {d_code}) tensor, got {got}"
                )
            table = torch.cat([codes.detach().float(), torch.zeros(1, d_code)])  # MASK: never a target
        self.register_buffer("codes", table)
        self.z_in = nn.Linear(d_code, d_model)
        self.t_in = nn.Linear(1, d_model)
        self.z_out = nn.Linear(d_model, d_code)

    @property
    def joint(self) -> bool:
        return self.mode == "joint"

    def denoise(self, question, x_t, z_t, t):
        """Token logits (n, L, vocab) and ``e_hat`` (n, L, d_code) at the generated positions."""
        net = self.net
        q = net.input_embeddings(question)
        h = net.input_embeddings(x_t) + self.t_in(t[:, None, None].expand(-1, x_t.shape[1], 1))
        if self.joint:
            h = h + self.z_in(z_t)
        out = net.forward_embeds(torch.cat([q, h], 1))
        hid = out.hidden_states[-1][:, q.shape[1] :]
        logits = out.logits[:, q.shape[1] :, : self.mask_id]  # never predict MASK
        return logits, self.z_out(hid)

    def targets(self, batch) -> torch.Tensor:
        m = check_batch(batch)
        x0 = torch.cat([batch["trace"][:, :m], batch["answer"][:, None]], 1)
        if x0.shape[1] != self.length:
            raise ValueError(
                f"CCDD was built for {self.length} generated positions, the batch has {x0.shape[1]}"
            )
        return x0

    def loss(self, batch, generator: torch.Generator | None = None) -> dict:
        """``{"tokens", "codes", "total"}`` at a random time per row (t uniform in [0.02, 1])."""
        x0 = self.targets(batch)
        n, L = x0.shape
        t = 0.02 + 0.98 * torch.rand(n, generator=generator)
        x_t = mask_tokens(x0, t, self.mask_id, torch.rand(n, L, generator=generator))
        e0 = self.codes[x0]
        z_t = noise_codes(e0, t, torch.randn(e0.shape, generator=generator))
        logits, e_hat = self.denoise(batch["question"], x_t, z_t, t)
        masked = x_t == self.mask_id
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x0.reshape(-1), reduction="none")
        tok = (ce * masked.reshape(-1)).sum() / masked.sum().clamp_min(1)
        if not self.joint:
            return {"tokens": tok, "codes": torch.zeros(()), "total": tok}
        mse = ((e_hat - e0) ** 2).sum(-1).mean()
        return {"tokens": tok, "codes": mse, "total": tok + mse}

    @torch.no_grad()
    def sample(self, question, steps: int, generator: torch.Generator | None = None, greedy: bool = True):
        """``S = steps`` reverse steps from all-MASK tokens and Gaussian codes; returns the tokens
        (n, L) (no MASK left) and the final codes (n, L, d_code)."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        n, L = question.shape[0], self.length
        x = torch.full((n, L), self.mask_id, dtype=torch.long)
        z = torch.randn(n, L, self.codes.shape[1], generator=generator)
        for k in range(steps):
            t, s = 1 - k / steps, 1 - (k + 1) / steps
            tt = torch.full((n,), t)
            logits, e_hat = self.denoise(question, x, z, tt)
            if greedy:
                pick = logits.argmax(-1)
            else:
                probs = torch.softmax(logits.float(), -1).reshape(n * L, -1)
                pick = torch.multinomial(probs, 1, generator=generator).reshape(n, L)
            reveal = torch.rand(n, L, generator=generator) < (t - s) / t
            masked = x == self.mask_id
            x = torch.where(masked & reveal, pick, x)
            if self.joint:
                ab_t, ab_s = alpha_bar(torch.tensor(t)), alpha_bar(torch.tensor(s))
                eps_hat = (z - ab_t.sqrt() * e_hat) / (1 - ab_t).sqrt().clamp_min(1e-6)
                z = ab_s.sqrt() * e_hat + (1 - ab_s).sqrt() * eps_hat
        return x, z
