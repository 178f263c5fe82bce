"""FaPE-GAN + Fa-Net: landmark-conditioned pose augmentation for expression recognition (F2ED).

Paper: "Facial expression recognition with multi-pose ... (FaPE-GAN, F2ED)" (Sections 3-5).

- :mod:`~fer_core.methods.fapegan.posemap`: the 68 landmarks drawn as a mask image ``I_P`` (Fig. 4b);
- :mod:`~fer_core.methods.fapegan.nets`: ``G_FaPE`` (``G_Enc``, ``G_Dec``), ``D`` and Fa-Net (LightCNN-29 v2);
- :mod:`~fer_core.methods.fapegan.losses`: Eqs. (1)-(3);
- :mod:`~fer_core.methods.fapegan.method`: the training steps, view pairs and the augmentation;
- :mod:`~fer_core.methods.fapegan.experiments`: the chapter's plan (:class:`FaPEStudy`) and tables;
- :mod:`~fer_core.methods.fapegan.paper`: the paper's reported tables and claims;
- :mod:`~fer_core.methods.fapegan.report`: the deviations table and closing notes.
"""

from fer_core.methods.fapegan.losses import *  # noqa: F401,F403
from fer_core.methods.fapegan.losses import __all__ as _losses
from fer_core.methods.fapegan.method import *  # noqa: F401,F403
from fer_core.methods.fapegan.method import __all__ as _method
from fer_core.methods.fapegan.nets import *  # noqa: F401,F403
from fer_core.methods.fapegan.nets import __all__ as _nets
from fer_core.methods.fapegan.posemap import *  # noqa: F401,F403
from fer_core.methods.fapegan.posemap import __all__ as _posemap

__all__ = [*_posemap, *_nets, *_losses, *_method]
