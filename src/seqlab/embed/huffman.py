"""Hierarchical softmax for word2vec: a Huffman tree over the vocabulary and its batched SGD step.

Paper: "Distributed Representations of Words and Phrases and their Compositionality" (Mikolov et al.,
arXiv 1310.4546), section 2.1. The output layer is a binary tree whose ``V`` leaves are the words and
whose ``V - 1`` inner nodes ``n`` each hold a vector ``u_n``. A word ``w`` is reached from the root by a
path of inner nodes ``n_1 .. n_L(w)`` and branch bits ``c_1 .. c_L(w)``; with ``s_j = 1 - 2 c_j``::

    p(w | h) = Π_j σ(s_j u_{n_j} · h)            (the probabilities of all leaves sum to 1)
    objective = Σ_j log σ(s_j u_{n_j} · h)

so one update touches ``L(w) ≈ log2 V`` inner vectors instead of ``V`` output vectors. The tree is a
Huffman code of the word counts (as in the paper and word2vec's C code): frequent words get short paths,
and the mean path length ``Σ_w count(w) L(w) / Σ count`` is the least of any binary prefix code.

Gradient (word2vec's and gensim's form): ``d objective / d (u_n · h) = 1 - c - σ(u_n · h)``; with learning
rate ``lr``, ``g_j = lr (1 - c_j - σ(u_{n_j} · h))``, ``u_{n_j} += g_j h`` and ``h`` receives
``Σ_j g_j u_{n_j}``.
"""

from __future__ import annotations

import heapq

import torch


class HuffmanTree:
    """Huffman code of ``counts``: per word its inner-node path (root first) and branch bits, padded.

    ``points`` (V, L) inner-node ids in ``0 .. V-2`` (the root is ``V - 2``), ``codes`` (V, L) bits in {0, 1},
    ``mask`` (V, L) marks the real entries, ``lengths`` (V,) the code lengths. Ties between equal counts are
    broken by creation order, so the tree is deterministic. A vocabulary of one word gets a root-less
    tree (length 0): hierarchical softmax then has nothing to learn, and is refused.
    """

    def __init__(self, counts):
        counts = [float(c) for c in (counts.tolist() if torch.is_tensor(counts) else counts)]
        v = len(counts)
        if v < 2:
            raise ValueError(f"hierarchical softmax needs a vocabulary of at least 2 words, got {v}")
        if any(not c > 0 for c in counts):
            raise ValueError("word counts must be positive")
        heap = [(c, i, i) for i, c in enumerate(counts)]  # (weight, tie-break order, node id)
        heapq.heapify(heap)
        parent = [0] * (2 * v - 1)
        bit = [0] * (2 * v - 1)
        order = v
        for inner in range(v - 1):
            c1, _, a = heapq.heappop(heap)
            c2, _, b = heapq.heappop(heap)
            node = v + inner
            parent[a], bit[a] = node, 0
            parent[b], bit[b] = node, 1
            heapq.heappush(heap, (c1 + c2, order, node))
            order += 1
        root = 2 * v - 2
        paths, codes = [], []
        for w in range(v):
            p, c, n = [], [], w
            while n != root:
                c.append(bit[n])
                n = parent[n]
                p.append(n - v)
            paths.append(p[::-1])
            codes.append(c[::-1])
        length = max(len(p) for p in paths)
        self.points = torch.zeros(v, length, dtype=torch.long)
        self.codes = torch.zeros(v, length)
        self.mask = torch.zeros(v, length, dtype=torch.bool)
        for w in range(v):
            n = len(paths[w])
            self.points[w, :n] = torch.tensor(paths[w], dtype=torch.long)
            self.codes[w, :n] = torch.tensor(codes[w], dtype=torch.float32)
            self.mask[w, :n] = True
        self.lengths = self.mask.sum(1)
        self.n_inner = v - 1

    def code_of(self, word: int) -> str:
        """The branch bits of ``word`` from the root, as a string of 0/1."""
        n = int(self.lengths[word])
        return "".join(str(int(b)) for b in self.codes[word, :n].tolist())


def hs_step(
    w_hs: torch.Tensor,
    tree: HuffmanTree,
    h: torch.Tensor,
    targets: torch.Tensor,
    lr: float,
    with_loss: bool = False,
) -> tuple[torch.Tensor, float]:
    """One batched hierarchical-softmax SGD step on the inner-node vectors ``w_hs`` (V-1, d).

    Returns ``(lr * d objective / d h, summed loss)``; ``u_n += g h`` is applied here (repeated nodes in a
    batch add up). The loss ``-Σ_j log σ(s_j u_{n_j} · h)`` is computed only when ``with_loss``.
    """
    pts = tree.points[targets]  # (B, L)
    code = tree.codes[targets]
    mask = tree.mask[targets]
    u = w_hs[pts]  # (B, L, d)
    score = torch.bmm(u, h.unsqueeze(2)).squeeze(2)
    g = (1.0 - code - torch.sigmoid(score)).mul_(lr).mul_(mask)
    grad_h = torch.bmm(g.unsqueeze(1), u).squeeze(1)
    rows = (g.unsqueeze(2) * h.unsqueeze(1))[mask]
    w_hs.index_put_((pts[mask],), rows, accumulate=True)
    loss = 0.0
    if with_loss:
        sign = 1.0 - 2.0 * code
        loss = float(-(torch.nn.functional.logsigmoid(sign * score) * mask).sum())
    return grad_h, loss
