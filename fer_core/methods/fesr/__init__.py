"""FESR: joint facial expression synthesis and recognition with real data-guided back-propagation.

Paper: "Joint Deep Learning of Facial Expression Synthesis and Recognition" (FESR).

- :mod:`~fer_core.methods.fesr.nets`: FESGAN (``G_enc``, ``G_dec``, ``D_img``, ``D_z``; Table I) and ``R`` (Table II);
- :mod:`~fer_core.methods.fesr.losses`: one function per equation (Eqs. 4-26);
- :mod:`~fer_core.methods.fesr.method`: the training step (Algorithm 1) and the variants of Section IV-D;
- :mod:`~fer_core.methods.fesr.experiments`: the chapter's plan (:class:`FESRStudy`) and tables;
- :mod:`~fer_core.methods.fesr.paper`: the paper's reported tables and claims;
- :mod:`~fer_core.methods.fesr.report`: the chapter's deviations table and closing notes.
"""

from fer_core.methods.fesr.losses import *  # noqa: F401,F403
from fer_core.methods.fesr.losses import __all__ as _losses
from fer_core.methods.fesr.method import *  # noqa: F401,F403
from fer_core.methods.fesr.method import __all__ as _method
from fer_core.methods.fesr.nets import *  # noqa: F401,F403
from fer_core.methods.fesr.nets import __all__ as _nets

__all__ = [*_nets, *_losses, *_method]
