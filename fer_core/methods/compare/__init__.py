"""Five GANs on one protocol: the comparison chapter (issue 19).

No paper compares FESR, JESRL, Comp-GAN, FaPE-GAN and GroupGAN with each other. This package adds
only what a comparison needs on top of the paper packages: one protocol
(:mod:`~fer_core.methods.compare.protocol`: data, folds, the four test conditions), one adapter per
method that reuses its package's networks and steps (:mod:`~fer_core.methods.compare.adapters`),
the cost of a training step (:mod:`~fer_core.methods.compare.cost`), the study
(:mod:`~fer_core.methods.compare.experiments`), the claims (:mod:`~fer_core.methods.compare.paper`)
and the run-dependent prose and figures (:mod:`~fer_core.methods.compare.report`).
"""

from fer_core.methods.compare.adapters import ADAPTERS, Adapter, adapter
from fer_core.methods.compare.protocol import CONDITIONS, CONDITION_TITLES

__all__ = ["ADAPTERS", "Adapter", "adapter", "CONDITIONS", "CONDITION_TITLES"]
