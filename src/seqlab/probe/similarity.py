"""Similarity of two representations of the same N inputs: CKA, SVCCA and mutual k-NN alignment.

All functions take ``X`` of shape ``(N, d1)`` and ``Y`` of shape ``(N, d2)`` -- row ``i`` of both is
the same input -- and compute in float64.

* **CKA** ("Similarity of Neural Network Representations Revisited", Kornblith et al., arXiv
  1905.00414). With Gram matrices ``K = k(X)``, ``L = l(Y)`` and the centring ``H = I - 11^T/N``::

      HSIC(K, L) = tr(K H L H) / (N - 1)^2,     CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)).

  ``kernel="linear"``: ``K = X X^T``; ``kernel="rbf"``: ``K_ij = exp(-|x_i - x_j|^2 / (2 s^2))`` with
  ``s = sigma * sqrt(median of the nonzero squared distances)`` (the paper's median heuristic).
  ``debiased=True`` replaces HSIC by its unbiased U-statistic estimator (Song et al., "Feature
  Selection via Dependence Maximization", JMLR 2012; used for CKA by Nguyen, Raghu and Kornblith,
  arXiv 2010.15327): with ``K~``, ``L~`` the Gram matrices with zeroed diagonals,

      HSIC_u = [tr(K~ L~) + 1^T K~ 1 * 1^T L~ 1 / ((N-1)(N-2)) - 2/(N-2) 1^T K~ L~ 1] / (N (N-3)),

  which removes the upward bias of the biased estimator when ``d >> N`` (debiased CKA of two
  independent random spaces is near 0, the biased one is not).
* **SVCCA** ("SVCCA: Singular Vector Canonical Correlation Analysis for Deep Learning Dynamics and
  Interpretability", Raghu et al., arXiv 1706.05806): keep the top singular directions of each centred
  matrix explaining ``keep`` of its variance, then the canonical correlations of the two reduced
  spaces are the singular values of ``Qx^T Qy`` (``Qx``, ``Qy`` orthonormal bases of the reduced,
  centred spaces); the score is their mean.
* **Mutual k-NN alignment** ("The Platonic Representation Hypothesis", Huh et al., arXiv 2405.07987):
  for each ``i`` take the ``k`` nearest neighbours of ``x_i`` among the other rows of X and of ``y_i``
  among the other rows of Y; the score is the mean over ``i`` of ``|N_X(i) & N_Y(i)| / k``. It is 1 for
  a space with itself and ``k / (N - 1)`` in expectation for independent spaces. Neighbours are by
  cosine similarity (the paper normalises features to the unit sphere) or Euclidean distance.
"""

from __future__ import annotations

import math

import torch

from seqlab.registry import Paper, register

CKA_PAPER = Paper("Similarity of Neural Network Representations Revisited", "1905.00414")
SVCCA_PAPER = Paper(
    "SVCCA: Singular Vector Canonical Correlation Analysis for Deep Learning Dynamics and Interpretability",
    "1706.05806",
)
PLATONIC_TITLE = "The Platonic Representation Hypothesis"
FLOW_TITLE = (
    "A Comparative Analysis of Contextual Representation Flow in State-Space and Transformer Architectures"
)
KERNELS = ("linear", "rbf")


def as_matrix(X, name: str = "X") -> torch.Tensor:
    """``X`` as a finite float64 ``(N, d)`` tensor; a clear ``ValueError`` otherwise."""
    if not isinstance(X, torch.Tensor):
        try:
            X = torch.as_tensor(X)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"{name} must be a (N, d) tensor or array, got {type(X).__name__}") from err
    if X.dim() != 2:
        raise ValueError(f"{name} must have shape (N, d) (samples x features), got {tuple(X.shape)}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty (N, d), got {tuple(X.shape)}")
    if not (X.is_floating_point() or X.dtype in (torch.int32, torch.int64)):
        raise ValueError(f"{name} must hold real numbers, got dtype {X.dtype}")
    X = X.detach().to(torch.float64)
    if not bool(torch.isfinite(X).all()):
        raise ValueError(f"{name} holds NaN or inf: non-finite activations cannot be compared")
    return X


def check_pair(X, Y, min_n: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Both as float64 matrices with the same number of rows (samples), at least ``min_n``."""
    X, Y = as_matrix(X, "X"), as_matrix(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y must describe the same samples: got {X.shape[0]} rows in X and {Y.shape[0]} in Y"
        )
    if X.shape[0] < min_n:
        raise ValueError(f"need at least {min_n} samples (rows), got {X.shape[0]}")
    return X, Y


def center_gram(K: torch.Tensor) -> torch.Tensor:
    """``H K H`` with ``H = I - 11^T / N``."""
    return K - K.mean(0, keepdim=True) - K.mean(1, keepdim=True) + K.mean()


def gram_linear(X: torch.Tensor) -> torch.Tensor:
    return X @ X.T


def squared_distances(X: torch.Tensor) -> torch.Tensor:
    sq = (X * X).sum(1)
    return (sq[:, None] + sq[None, :] - 2 * X @ X.T).clamp_min(0.0)


def gram_rbf(X: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """RBF Gram matrix with bandwidth ``sigma * sqrt(median nonzero squared distance)``."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0 (a multiple of the median distance), got {sigma!r}")
    d2 = squared_distances(X)
    off = d2[~torch.eye(len(X), dtype=torch.bool)]
    off = off[off > 0]
    med = float(off.median()) if off.numel() else 1.0
    return torch.exp(-d2 / (2.0 * sigma**2 * med))


def hsic(K: torch.Tensor, L: torch.Tensor) -> float:
    """Biased HSIC estimator ``tr(K H L H) / (N - 1)^2``."""
    n = K.shape[0]
    return float((center_gram(K) * center_gram(L)).sum()) / (n - 1) ** 2


def hsic_unbiased(K: torch.Tensor, L: torch.Tensor) -> float:
    """Unbiased HSIC (Song et al. 2012) on Gram matrices; needs N >= 4."""
    n = K.shape[0]
    if n < 4:
        raise ValueError(f"the unbiased HSIC estimator needs at least 4 samples, got {n}")
    Kt = K.clone()
    Lt = L.clone()
    Kt.fill_diagonal_(0.0)
    Lt.fill_diagonal_(0.0)
    ones_k, ones_l = Kt.sum(), Lt.sum()
    term = (Kt * Lt).sum() + ones_k * ones_l / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * (Kt.sum(0) @ Lt.sum(1))
    return float(term) / (n * (n - 3))


def _gram(X: torch.Tensor, kernel: str, sigma: float) -> torch.Tensor:
    if kernel == "linear":
        return gram_linear(X - X.mean(0, keepdim=True))
    return gram_rbf(X, sigma)


@register("probe", "cka", implements=CKA_PAPER, used_by=[FLOW_TITLE], family="similarity")
def cka(X, Y, kernel: str = "linear", debiased: bool = False, sigma: float = 1.0) -> float:
    """Centered kernel alignment of ``X`` (N, d1) and ``Y`` (N, d2); 1 for identical spaces.

    Linear CKA is invariant to orthogonal transforms and isotropic scaling of either space.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    X, Y = check_pair(X, Y, min_n=4 if debiased else 2)
    K, L = _gram(X, kernel, sigma), _gram(Y, kernel, sigma)
    est = hsic_unbiased if debiased else hsic
    kl, kk, ll = est(K, L), est(K, K), est(L, L)
    if kk <= 0 or ll <= 0:
        which = "X" if kk <= 0 else "Y"
        raise ValueError(f"{which} has no variance across samples (constant rows): CKA is undefined")
    return kl / math.sqrt(kk * ll)


def canonical_correlations(X, Y, keep: float = 0.99) -> torch.Tensor:
    """The canonical correlations (descending) after SVD-reducing each space to ``keep`` of its variance."""
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be the fraction of variance to keep, in (0, 1], got {keep!r}")
    X, Y = check_pair(X, Y, min_n=2)
    bases = []
    for name, M in (("X", X), ("Y", Y)):
        M = M - M.mean(0, keepdim=True)
        U, S, _ = torch.linalg.svd(M, full_matrices=False)
        var = S**2
        if float(var.sum()) <= 0:
            raise ValueError(f"{name} has no variance across samples (constant rows): SVCCA is undefined")
        frac = var.cumsum(0) / var.sum()
        r = int((frac < keep - 1e-12).sum()) + 1
        r = min(r, int((S > S[0] * 1e-10).sum()))
        bases.append(U[:, :r])  # orthonormal basis of the reduced, centred space
    return torch.linalg.svdvals(bases[0].T @ bases[1]).clamp(0.0, 1.0)


@register("probe", "svcca", implements=SVCCA_PAPER, family="similarity")
def svcca(X, Y, keep: float = 0.99) -> float:
    """Mean canonical correlation of the SVD-reduced spaces (``keep`` = variance fraction kept)."""
    return float(canonical_correlations(X, Y, keep).mean())


def knn_indices(X: torch.Tensor, k: int, metric: str = "cosine") -> torch.Tensor:
    """``(N, k)`` indices of each row's k nearest other rows (self excluded)."""
    if metric == "cosine":
        Z = X / X.norm(dim=1, keepdim=True).clamp_min(1e-12)
        score = Z @ Z.T
    elif metric == "euclidean":
        score = -squared_distances(X)
    else:
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    score.fill_diagonal_(-math.inf)
    return score.topk(k, dim=1).indices


@register(
    "probe",
    "mutual_knn",
    implements=Paper(PLATONIC_TITLE, "2405.07987"),
    used_by=[PLATONIC_TITLE],
    family="similarity",
)
def mutual_knn(X, Y, k: int = 10, metric: str = "cosine") -> float:
    """Mean fraction of shared k nearest neighbours of each sample in X and in Y (1 = same geometry)."""
    X, Y = check_pair(X, Y, min_n=2)
    n = X.shape[0]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < n:
        raise ValueError(f"k must be an int with 1 <= k < N (= {n} samples), got {k!r}")
    a, b = knn_indices(X, k, metric), knn_indices(Y, k, metric)
    hit = torch.zeros(n, n, dtype=torch.bool)
    hit.scatter_(1, a, True)
    return float(hit.gather(1, b).sum()) / (n * k)
