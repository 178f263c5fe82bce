"""GroupGAN: recognising weak facial expressions by magnifying them to peak ones.

Paper: "GroupGAN: weak expression recognition by magnifying expressions" (Niu et al., KBS 2022).

- :mod:`~fer_core.methods.groupgan.nets`: G (residual encoder-decoder with F_exp at the bottleneck), D and D'
  (VGG-like, conditioned in 2V2), the BaseNets that are E and C;
- :mod:`~fer_core.methods.groupgan.losses`: the energies of Eqs. 1-17, the heat map of Eq. 22, Fig. 4's map;
- :mod:`~fer_core.methods.groupgan.method`: Algorithm 1 and the four frameworks of Table 1;
- :mod:`~fer_core.methods.groupgan.experiments`: the chapter's plan (:class:`GroupGANStudy`) and tables;
- :mod:`~fer_core.methods.groupgan.paper`: the paper's reported tables and claims;
- :mod:`~fer_core.methods.groupgan.report`: the deviations table and the closing notes.
"""

from fer_core.methods.groupgan.losses import *  # noqa: F401,F403
from fer_core.methods.groupgan.losses import __all__ as _losses
from fer_core.methods.groupgan.method import *  # noqa: F401,F403
from fer_core.methods.groupgan.method import __all__ as _method
from fer_core.methods.groupgan.nets import *  # noqa: F401,F403
from fer_core.methods.groupgan.nets import __all__ as _nets

__all__ = [*_nets, *_losses, *_method]
