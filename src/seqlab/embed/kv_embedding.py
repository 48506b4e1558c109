"""KV-Embedding: training-free text embeddings from a frozen decoder by re-routing KV states.

"KV-Embedding: Training-free Text Embedding via Internal KV Re-routing in Decoder-only LLMs"
(Tang and Yang, arXiv 2601.01046). In a causal LM token ``t`` sees only tokens ``<= t``; the last
token has seen everything. In each re-routed layer ``l`` the key and value of the last token,
``k_T^l, v_T^l`` (after the rotary embedding), are prepended to that layer's keys and values as a
prefix that *every* query may attend to, within the same forward pass:

    a_t = softmax([q_t . k_T / sqrt(d_h) + b,  q_t . k_s / sqrt(d_h) for s <= t]) @ [v_T; v_s]

(``b`` an optional bias on the prefix logit). Early tokens thus read a summary of the whole text.
The input is wrapped in a compression prompt (:data:`PROMPT`), and the embedding pools the final
layer: the concatenation of the L2-normalised mean of the token states and the L2-normalised last
token's state (the paper combines mean and last-token pooling).

Which layers: the paper picks them by intrinsic dimension (ID). :func:`twonn_dimension` is the
TwoNN estimator ("Estimating the intrinsic dimension of datasets by a minimal neighborhood
information", Facco et al., arXiv 1803.06992): with ``r1, r2`` the distances of a point to its two
nearest neighbours and ``mu = r2 / r1``, ``mu`` follows a Pareto law with exponent ``d``, whose
maximum-likelihood estimate is ``d = (N - 1) / sum_i log mu_i``. :func:`select_layers` computes the
ID of the last-token states of every layer over sample texts and re-routes the ``width`` layers
centred on the layer of minimum ID (the most compressed representation), never the embedding layer.

The forward pass is seqlab's own (:class:`LlamaRunner`), over the weights of a ``transformers``
LLaMA model (SmolLM2 through :func:`seqlab.lm.load`); without re-routing it reproduces the model's
hidden states (tested).
"""

from __future__ import annotations

import torch

from seqlab.embed.pooling import last_pool, mean_pool
from seqlab.registry import Paper, register

KV_PAPER = Paper(
    "KV-Embedding: Training-free Text Embedding via Internal KV Re-routing in Decoder-only LLMs", "2601.01046"
)
PROMPT = 'Text: "{text}"\nCompress the text above into one word:'
POOLS = ("kv", "last", "mean", "mean+last")


# -- intrinsic dimension ------------------------------------------------------------------------------
def twonn_dimension(x: torch.Tensor) -> float:
    """TwoNN maximum-likelihood intrinsic dimension of the rows of ``x`` (N, D), N >= 3."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] < 3:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"twonn_dimension expects points of shape (N >= 3, D), got {got}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("twonn_dimension got NaN or inf points")
    x = x.double()
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    r = d.topk(2, dim=1, largest=False).values
    ok = r[:, 0] > 0  # duplicated points have no defined ratio
    mu = r[ok, 1] / r[ok, 0]
    logs = torch.log(mu)
    if logs.numel() < 3 or float(logs.sum()) <= 0:
        raise ValueError("twonn_dimension needs at least 3 distinct points in general position")
    return float((logs.numel() - 1) / logs.sum())


def select_layers(ids_per_layer: list[float], width: int) -> list[int]:
    """The ``width`` consecutive layers (1-based block indices) centred on the minimum-ID block.

    ``ids_per_layer[i]`` is the ID of block ``i + 1``'s output."""
    n = len(ids_per_layer)
    if n == 0 or not 1 <= width <= n:
        raise ValueError(f"select_layers needs 1 <= width <= {n} layers, got width {width}")
    best = min(range(n), key=lambda i: ids_per_layer[i])
    start = min(max(best - width // 2, 0), n - width)
    return [start + 1 + i for i in range(width)]


# -- a LLaMA forward pass with re-routing -------------------------------------------------------------
def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


def _positions(mask: torch.Tensor) -> torch.Tensor:
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


class LlamaRunner:
    """seqlab's forward pass over a ``transformers`` LLaMA model (``LlamaForCausalLM``'s weights),
    with KV re-routing in chosen layers. Left padding (the last column is every row's last token)."""

    def __init__(self, hf_model):
        core = getattr(hf_model, "model", hf_model)
        for name in ("embed_tokens", "layers", "norm", "rotary_emb"):
            if not hasattr(core, name):
                raise ValueError(f"LlamaRunner expects a LLaMA-style transformers model; it has no {name!r}")
        self.core = core
        self.n_layers = len(core.layers)

    def attention(self, attn, x, cos, sin, mask, reroute: bool, bias: float) -> torch.Tensor:
        B, T, _ = x.shape
        hd = attn.head_dim
        q = attn.q_proj(x).view(B, T, -1, hd).transpose(1, 2)
        k = attn.k_proj(x).view(B, T, -1, hd).transpose(1, 2)
        v = attn.v_proj(x).view(B, T, -1, hd).transpose(1, 2)
        c, s = cos[:, None], sin[:, None]
        q, k = q * c + _rotate_half(q) * s, k * c + _rotate_half(k) * s
        groups = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        scores = (q @ k.transpose(-1, -2)) * attn.scaling  # (B, H, T, T)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        allowed = causal[None] & mask.bool()[:, None, :]
        allowed = allowed | torch.eye(T, dtype=torch.bool, device=x.device)[None]  # padded rows: themselves
        scores = scores.masked_fill(~allowed[:, None], float("-inf"))
        if reroute:
            kp, vp = k[:, :, -1:], v[:, :, -1:]  # the last token's key/value (left padding)
            sp = (q @ kp.transpose(-1, -2)) * attn.scaling + bias  # (B, H, T, 1)
            scores, v = torch.cat([sp, scores], dim=-1), torch.cat([vp, v], dim=2)
        out = torch.softmax(scores.float(), dim=-1).to(v.dtype) @ v
        return attn.o_proj(out.transpose(1, 2).reshape(B, T, -1))

    @torch.no_grad()
    def hidden_states(
        self, ids: torch.Tensor, mask: torch.Tensor | None = None, reroute=(), bias: float = 0.0
    ):
        """``n_layers + 1`` states ``(B, T, d)`` (as transformers: index 0 the embeddings, the last
        after the final norm); blocks in ``reroute`` (1-based) attend to the last token's KV prefix."""
        if mask is None:
            mask = torch.ones_like(ids)
        if bool((mask[:, -1] == 0).any()):
            raise ValueError("KV re-routing needs left-padded rows (every row's last column a token)")
        bad = [l for l in reroute if not 1 <= l <= self.n_layers]
        if bad:
            raise ValueError(f"re-routed layers must be block indices in 1..{self.n_layers}, got {bad}")
        h = self.core.embed_tokens(ids)
        cos, sin = self.core.rotary_emb(h, position_ids=_positions(mask))
        out = [h]
        for i, layer in enumerate(self.core.layers, start=1):
            a = self.attention(layer.self_attn, layer.input_layernorm(h), cos, sin, mask, i in reroute, bias)
            h = h + a
            h = h + layer.mlp(layer.post_attention_layernorm(h))
            out.append(h)
        out[-1] = self.core.norm(h)
        return tuple(out)


def kv_pool(h: torch.Tensor, mask: torch.Tensor, pool: str) -> torch.Tensor:
    """Pool final-layer states: "last", "mean" or "mean+last" (normalised halves concatenated)."""
    if pool == "last":
        return last_pool(h, mask)
    if pool == "mean":
        return mean_pool(h, mask)
    if pool in ("mean+last", "kv"):
        n = torch.nn.functional.normalize
        return torch.cat([n(mean_pool(h, mask), dim=-1), n(last_pool(h, mask), dim=-1)], dim=-1)
    raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")


class KVEmbedding:
    """Training-free embeddings of a frozen causal LM (default SmolLM2-135M).

    ``layers``: re-routed blocks (1-based); None selects ``width`` blocks by intrinsic dimension on
    the first texts encoded (or call :meth:`fit_layers`). ``pool``: "kv" (re-routing + mean/last),
    or a baseline of the same frozen model without re-routing: "last", "mean", "mean+last".
    """

    def __init__(
        self,
        lm="smollm2-135m",
        layers=None,
        width: int | None = None,
        pool: str = "kv",
        prompt: str | None = PROMPT,
        bias: float = 0.0,
        batch_size: int = 8,
        id_sample: int = 48,
    ):
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        if isinstance(lm, str):
            import seqlab.lm

            lm = seqlab.lm.load(lm)
        if not getattr(lm, "is_causal", False) or not hasattr(lm, "model"):
            raise ValueError(f"KV-Embedding needs a causal seqlab.lm model (e.g. 'smollm2-135m'), got {lm!r}")
        if prompt is not None and "{text}" not in prompt:
            raise ValueError(f"prompt must contain '{{text}}', got {prompt!r}")
        self.lm, self.pool, self.prompt, self.bias = lm, pool, prompt, bias
        self.runner = LlamaRunner(lm.model)
        self.width = width or max(1, round(self.runner.n_layers / 3))
        self.layers = None if layers is None else sorted(int(x) for x in layers)
        self.batch_size, self.id_sample = batch_size, id_sample
        self.layer_ids: list[float] | None = None

    def _batches(self, texts):
        texts = [self.prompt.format(text=t) if self.prompt else t for t in texts]
        for s in range(0, len(texts), self.batch_size):
            yield self.lm.encode(texts[s : s + self.batch_size])

    def fit_layers(self, texts: list[str]) -> list[int]:
        """TwoNN ID of every block's last-token states over ``texts``; choose the re-routed layers."""
        if len(texts) < 3:
            raise ValueError(f"layer selection needs at least 3 texts, got {len(texts)}")
        per_layer = None
        for ids, mask in self._batches(texts):
            hs = self.runner.hidden_states(ids, mask)
            lasts = [h[:, -1] for h in hs[1:]]
            per_layer = lasts if per_layer is None else [torch.cat([a, b]) for a, b in zip(per_layer, lasts)]
        self.layer_ids = [twonn_dimension(x) for x in per_layer]
        self.layers = select_layers(self.layer_ids, self.width)
        return self.layers

    def encode(self, texts: list[str]) -> torch.Tensor:
        """One embedding per text: ``(N, 2d)`` for "kv" / "mean+last", ``(N, d)`` for the others."""
        if isinstance(texts, str) or not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError(f"encode expects a non-empty list of strings, got {texts!r}")
        reroute = ()
        if self.pool == "kv":
            if self.layers is None:
                self.fit_layers(list(texts)[: self.id_sample])
            reroute = tuple(self.layers)
        out = []
        for ids, mask in self._batches(texts):
            h = self.runner.hidden_states(ids, mask, reroute=reroute, bias=self.bias)[-1]
            out.append(kv_pool(h, mask, self.pool).float())
        return torch.cat(out)


@register("embedder", "kv_embedding", implements=KV_PAPER)
def kv_embedding(lm="smollm2-135m", **kw) -> KVEmbedding:
    """KV-Embedding: last-token KV re-routed as a prefix in ID-selected layers of a frozen decoder."""
    return KVEmbedding(lm, **kw)
