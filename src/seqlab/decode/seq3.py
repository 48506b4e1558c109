"""SEQ^3: a differentiable sequence-to-sequence-to-sequence autoencoder for sentence compression.

"SEQ^3: Differentiable Sequence-to-Sequence-to-Sequence Autoencoder for Unsupervised Abstractive
Sentence Compression" (Baziotis, Androutsopoulos, Konstas, Potamianos; arXiv 1904.03651).

Two chained encoder-decoders share one word embedding ``E`` (also the output layer of both decoders):

* the **compressor** reads the sentence ``x = x_1 .. x_N`` (bidirectional GRU) and emits a shorter
  word sequence ``y_1 .. y_M`` with an attentional GRU decoder. Each word is drawn by the
  straight-through Gumbel-softmax: ``s_t = softmax((l_t + g_t) / tau)`` with Gumbel noise ``g_t``, the
  forward pass uses the one-hot ``h_t = onehot(argmax s_t)``, the backward pass the gradient of
  ``s_t`` (``h_t - sg(s_t) + s_t``); the next decoder input and the reconstructor's input are
  ``h_t E``, so gradients flow from the reconstruction through the discrete words;
* the **reconstructor** reads the compression (bidirectional GRU) and regenerates ``x`` (attentional
  GRU decoder, teacher forcing).

Length control (as in the paper): the compression length is fixed per sentence, ``M = max(1,
round(ratio N))``, and both decoders receive, at every step, an embedding of the number of words they
still have to emit (a countdown), so they know where they are.

The loss is ``L = L_R + lambda_P L_P + lambda_T L_T``:

* ``L_R``: cross-entropy of the reconstruction of ``x``;
* ``L_P`` (LM prior): a word LM pretrained on the same corpus and frozen scores the compression:
  ``sum_t KL(p_C(. | y_<t, x) || p_LM(. | y_<t))`` per word, where ``p_C`` is the compressor's softmax and
  ``p_LM`` the LM's next-word distribution given the words emitted so far (so compressions read like
  the corpus);
* ``L_T`` (topic): ``1 - cos(sum_i idf(x_i) E[x_i] / sum_i idf(x_i), mean_t h_t E)``, keeping the
  compression on the input's topic.

Evaluation against the extractive baselines of the same length ``M`` (first ``M`` words; ``M`` random
words in their order): content-word reconstruction accuracy (a reconstructor of the same architecture
and budget is trained on each baseline's compressions), recall of the source's content words in the
compression, and perplexity of the compressions under a second LM trained on the same corpus with
another seed. :func:`seq3_experiment` (experiment ``decode.seq3``) runs it on gensim's Lee corpus.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.registry import Paper, experiment, register

PAPER = Paper(
    "SEQ^3: Differentiable Sequence-to-Sequence-to-Sequence Autoencoder for Unsupervised Abstractive "
    "Sentence Compression",
    "1904.03651",
)
PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
# function words: not "content" for the key-word metrics
STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being it its
    this that these those he she they we you i his her their our your my him them us me who whom which
    what when where why how not no nor so than too very can will would should could may might must do
    does did has have had having there here also said says about into over after before up down out
    off again all any both each few more most other some such only own same just , ; : ' s""".split()
)


# -- data ------------------------------------------------------------------------------------------
def corpus_sentences(name: str = "lee_background.cor", min_words: int = 8, max_words: int = 24) -> list:
    """Lower-cased word lists of the sentences of a gensim test corpus with ``min_words..max_words`` words."""
    from seqlab.tasks.text import gensim_data_dir

    text = (Path(gensim_data_dir()) / name).read_text(encoding="utf-8", errors="replace").lower()
    out = []
    for s in re.split(r"[.!?]+\s", text):
        words = re.findall(r"[a-z0-9']+|[,;:]", s)
        if min_words <= len(words) <= max_words:
            out.append(words)
    return out


@dataclass
class Vocab:
    """Word <-> id with the four specials first (pad 0, unk 1, bos 2, eos 3)."""

    words: list

    @classmethod
    def build(cls, sentences, size: int) -> Vocab:
        counts = Counter(w for s in sentences for w in s)
        return cls(list(SPECIALS) + [w for w, _ in counts.most_common(size)])

    def __post_init__(self):
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, words) -> list:
        return [self.index.get(w, UNK) for w in words]

    def text(self, ids) -> str:
        return " ".join(self.words[i] for i in ids if i != PAD)

    def content_mask(self) -> torch.Tensor:
        """(V,) True for content words (not a special, not a stop word)."""
        return torch.tensor([i >= len(SPECIALS) and w not in STOPWORDS for i, w in enumerate(self.words)])


def pad_batch(seqs, pad: int = PAD) -> tuple:
    """``(B, max len)`` LongTensor and its ``(B,)`` lengths."""
    n = max(len(s) for s in seqs)
    x = torch.full((len(seqs), n), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return x, torch.tensor([len(s) for s in seqs])


def compressed_lengths(lengths: torch.Tensor, ratio: float) -> torch.Tensor:
    """``M = max(1, round(ratio N))`` per sentence."""
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"compression ratio must lie in (0, 1], got {ratio!r}")
    return torch.clamp(torch.round(lengths.float() * ratio).long(), min=1)


def first_k(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """The lead baseline: the first ``m_i`` words of each row (padded)."""
    out = torch.full((x.shape[0], int(m.max())), PAD, dtype=torch.long)
    for i, k in enumerate(m.tolist()):
        out[i, :k] = x[i, :k]
    return out


def random_k(x: torch.Tensor, lengths: torch.Tensor, m: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``m_i`` distinct positions of row ``i`` drawn uniformly, the words kept in their order (padded)."""
    out = torch.full((x.shape[0], int(m.max())), PAD, dtype=torch.long)
    for i, (n, k) in enumerate(zip(lengths.tolist(), m.tolist(), strict=True)):
        keep = torch.randperm(n, generator=gen)[:k].sort().values
        out[i, :k] = x[i, keep]
    return out


def gumbel_st(logits: torch.Tensor, tau: float, gen: torch.Generator | None = None) -> tuple:
    """Straight-through Gumbel-softmax: (one-hot forward / soft backward sample, soft sample)."""
    u = torch.rand(logits.shape, generator=gen, dtype=logits.dtype).clamp_(1e-9, 1 - 1e-9)
    soft = torch.softmax((logits - torch.log(-torch.log(u))) / tau, dim=-1)
    hard = F.one_hot(soft.argmax(-1), logits.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft, soft


# -- models ----------------------------------------------------------------------------------------
class WordLM(nn.Module):
    """A GRU word LM whose inputs may be distributions over words (``(B, T, V)``) or ids (``(B, T)``)."""

    def __init__(self, vocab_size: int, d: int):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, d)
        self.rnn = nn.GRU(d, d, batch_first=True)
        self.out = nn.Linear(d, vocab_size)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        e = self.emb(inp) if inp.dtype == torch.long else inp @ self.emb.weight
        return self.out(self.rnn(e)[0])


class _Encoder(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.rnn = nn.GRU(d, d, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * d, d)
        self.init = nn.Linear(2 * d, d)

    def forward(self, e: torch.Tensor, lengths: torch.Tensor) -> tuple:
        packed = nn.utils.rnn.pack_padded_sequence(e, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, h = self.rnn(packed)
        out = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=e.shape[1])[0]
        return self.proj(out), torch.tanh(self.init(torch.cat([h[0], h[1]], -1)))


def _attend(q: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Dot-product attention of queries ``(B, T, d)`` over ``keys`` ``(B, S, d)`` with ``mask`` ``(B, S)``."""
    scores = (q @ keys.transpose(1, 2)) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
    return torch.softmax(scores, -1) @ keys


@register(
    "decoder",
    "seq3",
    implements=PAPER,
    description="SEQ^3 compressor-reconstructor (Gumbel-softmax, LM prior)",
)
class Seq3(nn.Module):
    """The SEQ^3 autoencoder (see the module docstring): ``compress`` then ``reconstruct``.

    ``vocab_size``, ``d`` (embedding and GRU width), ``max_len`` (longest sentence, for the countdown
    embedding), ``tau`` (Gumbel-softmax temperature).
    """

    def __init__(self, vocab_size: int, d: int = 64, max_len: int = 64, tau: float = 0.5):
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("d", d), ("max_len", max_len)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Seq3 needs {name} a positive int, got {v!r}")
        if not tau > 0:
            raise ValueError(f"Seq3 needs a Gumbel-softmax temperature tau > 0, got {tau!r}")
        self.vocab_size, self.d, self.max_len, self.tau = vocab_size, d, max_len, float(tau)
        self.emb = nn.Embedding(vocab_size, d)
        self.countdown = nn.Embedding(max_len + 1, d)
        self.c_enc, self.r_enc = _Encoder(d), _Encoder(d)
        self.c_cell = nn.GRUCell(2 * d, d)
        self.c_out = nn.Linear(2 * d, d)
        self.r_rnn = nn.GRU(2 * d, d, batch_first=True)
        self.r_out = nn.Linear(2 * d, d)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def _logits(self, o: torch.Tensor) -> torch.Tensor:  # tied output layer
        return o @ self.emb.weight.T + self.bias

    def _remaining(self, total: torch.Tensor, t) -> torch.Tensor:
        return (
            (total[:, None] - t).clamp(0, self.max_len)
            if torch.is_tensor(t)
            else (total - t).clamp(0, self.max_len)
        )

    def compress(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor,
        m: torch.Tensor,
        sample: bool = True,
        gen: torch.Generator | None = None,
    ) -> tuple:
        """Emit ``m_i`` words for each sentence ``x_i`` (``(B, N)``, true lengths ``lengths``).

        Returns ``(words (B, M, V), logits (B, M, V), mask (B, M))``: ``words`` are straight-through
        Gumbel-softmax one-hots (``sample=True``) or the argmax one-hots (``sample=False``).
        """
        if x.dim() != 2 or x.dtype != torch.long:
            raise ValueError(
                f"Seq3.compress expects word ids (batch, length), got {tuple(x.shape)} {x.dtype}"
            )
        if int(lengths.max()) > self.max_len or int(m.max()) > self.max_len:
            raise ValueError(f"Seq3 was built for sentences of at most max_len={self.max_len} words")
        if bool((m < 1).any()) or bool((m > lengths).any()):
            raise ValueError("compressed lengths must lie in [1, sentence length]")
        mask_x = torch.arange(x.shape[1])[None] < lengths[:, None]
        keys, h = self.c_enc(self.emb(x), lengths)
        prev = self.emb(torch.full((x.shape[0],), BOS, dtype=torch.long))
        words, logits = [], []
        for t in range(int(m.max())):
            h = self.c_cell(torch.cat([prev, self.countdown(self._remaining(m, t))], -1), h)
            ctx = _attend(h[:, None], keys, mask_x)[:, 0]
            lt = self._logits(torch.tanh(self.c_out(torch.cat([h, ctx], -1))))
            if sample:
                w, _ = gumbel_st(lt, self.tau, gen)
            else:
                w = F.one_hot(lt.argmax(-1), self.vocab_size).to(lt.dtype)
            words.append(w)
            logits.append(lt)
            prev = w @ self.emb.weight
        mask_y = torch.arange(int(m.max()))[None] < m[:, None]
        return torch.stack(words, 1), torch.stack(logits, 1), mask_y

    def reconstruct(
        self, y: torch.Tensor, m: torch.Tensor, x: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``(B, N + 1, V)`` of ``x_1 .. x_N EOS`` given the compression ``y`` (ids or one-hots).

        Teacher forcing: the decoder reads ``BOS x_1 .. x_N`` and a countdown of the words left.
        """
        e_y = self.emb(y) if y.dtype == torch.long else y @ self.emb.weight
        keys, h = self.r_enc(e_y, m)
        mask_y = torch.arange(e_y.shape[1])[None] < m[:, None]
        inp = torch.cat([torch.full((x.shape[0], 1), BOS, dtype=torch.long), x], 1)
        t = torch.arange(inp.shape[1])[None]
        dec_in = torch.cat([self.emb(inp), self.countdown(self._remaining(lengths + 1, t))], -1)
        out, _ = self.r_rnn(dec_in, h[None])
        ctx = _attend(out, keys, mask_y)
        return self._logits(torch.tanh(self.r_out(torch.cat([out, ctx], -1))))


def reconstruction_targets(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x_1 .. x_N EOS`` padded with PAD: ``(B, N + 1)``."""
    tgt = torch.cat([x, torch.full((x.shape[0], 1), PAD, dtype=torch.long)], 1)
    tgt[torch.arange(x.shape[0]), lengths] = EOS
    return tgt


def prior_loss(logits: torch.Tensor, words: torch.Tensor, mask: torch.Tensor, lm: WordLM) -> torch.Tensor:
    """``mean_t KL(p_C(. | y_<t, x) || p_LM(. | y_<t))`` over the compression's words (``lm`` frozen)."""
    bos = F.one_hot(torch.full(words.shape[:1], BOS, dtype=torch.long), words.shape[-1]).to(words.dtype)
    lm_logp = torch.log_softmax(lm(torch.cat([bos[:, None], words[:, :-1]], 1)), -1)
    logp = torch.log_softmax(logits, -1)
    kl = (logp.exp() * (logp - lm_logp)).sum(-1)
    return (kl * mask).sum() / mask.sum()


def topic_loss(
    x: torch.Tensor,
    lengths: torch.Tensor,
    words: torch.Tensor,
    mask: torch.Tensor,
    emb: torch.Tensor,
    idf: torch.Tensor,
) -> torch.Tensor:
    """``mean_b 1 - cos(idf-weighted mean of E[x], mean of the compression's embeddings)``."""
    mx = (torch.arange(x.shape[1])[None] < lengths[:, None]).float() * idf[x]
    src = (emb[x] * mx[..., None]).sum(1) / mx.sum(1, keepdim=True).clamp_min(1e-9)
    comp = ((words @ emb) * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return (1 - F.cosine_similarity(src, comp.to(src.dtype), dim=-1)).mean()


# -- training and measurement ----------------------------------------------------------------------
def _batches(data: list, batch: int, steps: int, gen: torch.Generator):
    for _ in range(steps):
        yield [data[i] for i in torch.randint(len(data), (batch,), generator=gen).tolist()]


def train_word_lm(
    train: list, vocab_size: int, d: int, steps: int, seed: int, batch: int = 32, lr=3e-3
) -> WordLM:
    """A :class:`WordLM` fit on ``BOS s EOS`` of the id lists ``train``; returned frozen, in eval mode."""
    torch.manual_seed(seed)
    lm = WordLM(vocab_size, d)
    opt = torch.optim.Adam(lm.parameters(), lr=lr)
    for seqs in _batches(train, batch, steps, torch.Generator().manual_seed(seed)):
        x, _ = pad_batch([[BOS, *s, EOS] for s in seqs])
        loss = F.cross_entropy(lm(x[:, :-1]).transpose(1, 2), x[:, 1:], ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        opt.step()
    lm.eval().requires_grad_(False)
    return lm


@torch.no_grad()
def lm_perplexity(lm: WordLM, seqs: list, eos: bool = True) -> float:
    """Word perplexity of ``BOS s (EOS)`` under ``lm`` over all predicted tokens."""
    x, _ = pad_batch([[BOS, *s] + ([EOS] if eos else []) for s in seqs])
    nll = F.cross_entropy(lm(x[:, :-1]).transpose(1, 2), x[:, 1:], ignore_index=PAD, reduction="sum")
    return math.exp(float(nll) / int((x[:, 1:] != PAD).sum()))


def unigram_perplexity(train: list, test: list, vocab_size: int) -> float:
    counts = Counter(w for s in train for w in [*s, EOS])
    total = sum(counts.values())
    nll = sum(-math.log((counts[w] + 1) / (total + vocab_size)) for s in test for w in [*s, EOS])
    return math.exp(nll / sum(len(s) + 1 for s in test))


def train_seq3(
    model: Seq3,
    train: list,
    prior: WordLM | None,
    idf: torch.Tensor,
    *,
    steps: int,
    ratio: float,
    lambda_prior: float,
    lambda_topic: float,
    seed: int,
    batch: int = 32,
    lr: float = 1e-3,
) -> list:
    """Fit ``model`` end to end (``L_R + lambda_P L_P + lambda_T L_T``); returns the loss per step."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history = []
    for seqs in _batches(train, batch, steps, gen):
        x, n = pad_batch(seqs)
        m = compressed_lengths(n, ratio)
        words, logits, mask = model.compress(x, n, m, sample=True, gen=gen)
        rec = model.reconstruct(words, m, x, n)
        loss = F.cross_entropy(rec.transpose(1, 2), reconstruction_targets(x, n), ignore_index=PAD)
        if prior is not None and lambda_prior:
            loss = loss + lambda_prior * prior_loss(logits, words, mask.float(), prior)
        if lambda_topic:
            loss = loss + lambda_topic * topic_loss(x, n, words, mask.float(), model.emb.weight, idf)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        history.append(float(loss.detach()))
    model.eval()
    return history


def train_reconstructor(
    model: Seq3,
    train: list,
    compress,
    *,
    steps: int,
    ratio: float,
    seed: int,
    batch: int = 32,
    lr: float = 1e-3,
) -> None:
    """Fit only the reconstruction path of ``model`` on fixed compressions ``compress(x, n, m, gen)``."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for seqs in _batches(train, batch, steps, gen):
        x, n = pad_batch(seqs)
        m = compressed_lengths(n, ratio)
        y = compress(x, n, m, gen)
        rec = model.reconstruct(y, m, x, n)
        loss = F.cross_entropy(rec.transpose(1, 2), reconstruction_targets(x, n), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    model.eval()


@torch.no_grad()
def content_accuracy(model: Seq3, y: torch.Tensor, m, x, n, content: torch.Tensor, positions=None) -> float:
    """Teacher-forced accuracy of the reconstruction at the positions whose target is a content word
    (and, when given, ``positions`` ``(B, N)`` True)."""
    pred = model.reconstruct(y, m, x, n).argmax(-1)[:, : x.shape[1]]
    sel = content[x] & (torch.arange(x.shape[1])[None] < n[:, None])
    if positions is not None:
        sel = sel & positions
    return float((pred == x)[sel].float().mean()) if bool(sel.any()) else float("nan")


def keyword_recall(x: torch.Tensor, n: torch.Tensor, y: torch.Tensor, m: torch.Tensor, content) -> float:
    """Mean over sentences of the fraction of the source's content-word types found in the compression
    (ROUGE-1 recall restricted to content words); sentences without content words are skipped."""
    vals = []
    for i in range(x.shape[0]):
        src = {w for w in x[i, : n[i]].tolist() if content[w]}
        if src:
            vals.append(len(src & set(y[i, : m[i]].tolist())) / len(src))
    return sum(vals) / len(vals)


SEQ3_DEFAULTS = dict(
    vocab=1000,
    d=64,
    ratio=0.5,
    steps=400,
    lm_steps=200,
    lr=2e-3,
    tau=0.5,
    lambda_prior=0.1,
    lambda_topic=1.0,
    n_test=300,
    batch=32,
    min_words=6,
    max_words=30,
)


@experiment("decode.seq3")
def seq3_experiment(params: dict, seed: int) -> dict:
    """SEQ^3 vs first-k and random-k compressions of held-out Lee-corpus sentences (same lengths).

    Sentences of 8..24 words from ``lee_background.cor``; the seed shuffles them and holds out
    ``n_test``. Trains the LM prior (seed), an evaluation LM (another seed), SEQ^3 end to end and, with
    the same architecture and steps, a reconstructor on first-k and one on random-k compressions.
    """
    p = {**SEQ3_DEFAULTS, **params}
    unknown = sorted(set(p) - set(SEQ3_DEFAULTS))
    if unknown:
        raise ValueError(f"decode.seq3: unknown params {unknown}; expected some of {sorted(SEQ3_DEFAULTS)}")
    sents = corpus_sentences(min_words=p["min_words"], max_words=p["max_words"])
    order = torch.randperm(len(sents), generator=torch.Generator().manual_seed(seed)).tolist()
    sents = [sents[i] for i in order]
    test_w, train_w = sents[: p["n_test"]], sents[p["n_test"] :]
    vocab = Vocab.build(train_w, p["vocab"])
    train, test = [vocab.ids(s) for s in train_w], [vocab.ids(s) for s in test_w]
    v, d, ratio, steps = len(vocab), p["d"], p["ratio"], p["steps"]
    content = vocab.content_mask()
    df = Counter(w for s in train for w in set(s))
    idf = torch.tensor([math.log(len(train) / (1 + df[i])) for i in range(v)]).clamp_min(0.0)

    prior = train_word_lm(train, v, d, p["lm_steps"], seed)
    judge = train_word_lm(train, v, d, p["lm_steps"], seed + 1000)
    x, n = pad_batch(test)
    m = compressed_lengths(n, ratio)
    gen = torch.Generator().manual_seed(seed + 1)
    out = {
        "prior_ppl": lm_perplexity(prior, test),
        "judge_ppl": lm_perplexity(judge, test),
        "unigram_ppl": unigram_perplexity(train, test, v),
    }

    torch.manual_seed(seed)
    seq3 = Seq3(v, d, max_len=p["max_words"] + 1, tau=p["tau"])
    hist = train_seq3(
        seq3,
        train,
        prior,
        idf,
        steps=steps,
        ratio=ratio,
        lambda_prior=p["lambda_prior"],
        lambda_topic=p["lambda_topic"],
        seed=seed,
        batch=p["batch"],
        lr=p["lr"],
    )
    with torch.no_grad():
        y_seq3 = seq3.compress(x, n, m, sample=False)[0].argmax(-1)
    comps = {"seq3": (seq3, y_seq3)}
    for name, fn in (
        ("first_k", lambda x_, n_, m_, g: first_k(x_, m_)),
        ("random_k", lambda x_, n_, m_, g: random_k(x_, n_, m_, g)),
    ):
        torch.manual_seed(seed)
        rec = Seq3(v, d, max_len=p["max_words"] + 1, tau=p["tau"])
        train_reconstructor(rec, train, fn, steps=steps, ratio=ratio, seed=seed, batch=p["batch"], lr=p["lr"])
        comps[name] = (rec, fn(x, n, m, gen))
    for name, (model, y) in comps.items():
        y = y.masked_fill(torch.arange(y.shape[1])[None] >= m[:, None], PAD)
        out[f"recon_acc_{name}"] = content_accuracy(model, y, m, x, n, content)
        out[f"keyword_recall_{name}"] = keyword_recall(x, n, y, m, content)
        out[f"ppl_{name}"] = lm_perplexity(
            judge, [r[:k] for r, k in zip(y.tolist(), m.tolist(), strict=True)], eos=False
        )
        kept_words = [r[:k] for r, k in zip(y.tolist(), m.tolist(), strict=True)]
        out[f"distinct_{name}"] = sum(len(set(r)) / len(r) for r in kept_words) / len(kept_words)
        out[f"examples_{name}"] = [
            vocab.text(r[:k]) for r, k in zip(y[:3].tolist(), m[:3].tolist(), strict=True)
        ]
    # positive control: the first-k reconstructor copies the words it was given (positions < m)
    kept = torch.arange(x.shape[1])[None] < m[:, None]
    out["copy_acc_first_k"] = content_accuracy(comps["first_k"][0], first_k(x, m), m, x, n, content, kept)
    out["examples_source"] = [vocab.text(s) for s in test[:3]]
    out["seq3_loss_first_last"] = [hist[0], sum(hist[-50:]) / len(hist[-50:])]
    out["gain_recon"] = out["recon_acc_seq3"] - out["recon_acc_random_k"]
    out["ppl_ratio"] = out["ppl_seq3"] / out["ppl_random_k"]
    return out
