"""IMSAT (Information Maximizing Self-Augmented Training) for scikit-learn.

Reference: W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama,
"Learning Discrete Representations via Information Maximizing Self-Augmented
Training", ICML 2017, arXiv:1702.08720.
"""

from ._cluster import IMSATClusterer
from ._hasher import IMSATHasher
from ._paper import paper_params

__version__ = "0.1.0.dev0"

__all__ = ["IMSATClusterer", "IMSATHasher", "paper_params", "__version__"]
