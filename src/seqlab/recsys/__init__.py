"""seqlab.recsys: sequential recommendation on MovieLens-100K (docs/recsys.md).

Data and split (:mod:`~seqlab.recsys.data`), full-ranking metrics (:mod:`~seqlab.recsys.metrics`),
registered recommenders (kind ``"recommender"``): ``popularity``, ``sasrec``, ``gru4rec`` and
``grid`` (generative retrieval over semantic IDs), and the experiment cells of the recsys claims.
"""

from seqlab.recsys import (  # noqa: F401  (registration)
    dare,
    dare_experiment,
    experiments,
    grid,
    gru4rec,
    playlist,
    popularity,
    recformer,
    recformer_experiment,
    sasrec,
    timesync,
    timesync_decoder,
    timesync_experiment,
    unirec,
)
from seqlab.recsys.base import Recommender, ScoringRecommender, evaluate
from seqlab.recsys.dare import DARE
from seqlab.recsys.data import Interactions, Split, leave_one_out, load_ml100k
from seqlab.recsys.grid import GRID
from seqlab.recsys.gru4rec import GRU4Rec
from seqlab.recsys.playlist import PlaylistSeq2Seq
from seqlab.recsys.popularity import Popularity
from seqlab.recsys.recformer import Recformer
from seqlab.recsys.sasrec import SASRec
from seqlab.recsys.timesync import TIMeSynC
from seqlab.recsys.timesync_decoder import TIMeSynCSeq2Seq
from seqlab.recsys.unirec import UniRec

__all__ = [
    "DARE",
    "GRID",
    "GRU4Rec",
    "Interactions",
    "PlaylistSeq2Seq",
    "Popularity",
    "Recformer",
    "Recommender",
    "SASRec",
    "ScoringRecommender",
    "Split",
    "TIMeSynC",
    "TIMeSynCSeq2Seq",
    "UniRec",
    "evaluate",
    "leave_one_out",
    "load_ml100k",
]
