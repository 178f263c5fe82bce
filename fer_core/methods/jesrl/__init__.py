"""JESRL: joint expression synthesis and representation learning (the switch GAN with a classifier).

Paper: "Joint Expression Synthesis and Representation Learning for Facial Expression Recognition"
(JESRL; Sec. III-IV, Table I, Eqs. 2-12, Tables II-VII, Figs. 5-12).

- :mod:`~fer_core.methods.jesrl.switch`: the switch unit (Eqs. 3, 6) and the switch code;
- :mod:`~fer_core.methods.jesrl.nets`: ``G_enc``, ``G_dec``, ``D1``/``D2``, ``C`` (Table I);
- :mod:`~fer_core.methods.jesrl.losses`: one function per equation (Eqs. 5, 7-12);
- :mod:`~fer_core.methods.jesrl.method`: the training step and the variants of Table VII;
- :mod:`~fer_core.methods.jesrl.evaluation`: the judge's reading of transfers, FID per expression;
- :mod:`~fer_core.methods.jesrl.experiments`: the chapter's plan (:class:`JESRLStudy`) and tables;
- :mod:`~fer_core.methods.jesrl.paper`: the paper's reported tables and claims;
- :mod:`~fer_core.methods.jesrl.report`: deviations, paper vs authors' code, closing notes.
"""

from fer_core.methods.jesrl.losses import *  # noqa: F401,F403
from fer_core.methods.jesrl.losses import __all__ as _losses
from fer_core.methods.jesrl.method import *  # noqa: F401,F403
from fer_core.methods.jesrl.method import __all__ as _method
from fer_core.methods.jesrl.nets import *  # noqa: F401,F403
from fer_core.methods.jesrl.nets import __all__ as _nets
from fer_core.methods.jesrl.switch import *  # noqa: F401,F403
from fer_core.methods.jesrl.switch import __all__ as _switch

__all__ = [*_switch, *_nets, *_losses, *_method]
