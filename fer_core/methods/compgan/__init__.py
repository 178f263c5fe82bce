"""Comp-GAN: compositional expression and pose synthesis for few-shot fine-grained FER (F2ED).

Paper: Wang et al., "A Fine-Grained Facial Expression Database for End-to-End Multi-Pose Facial
Expression Recognition" / Comp-GAN (Sections 4-5, Algorithm 1, Eqs. 1-18).

- :mod:`~fer_core.methods.compgan.nets`: ``G_Exp``, ``G_Pose`` (encoder-decoders on source + reference),
  the AttGAN-style ``D`` with attribute heads, ``F_cls`` (LightCNN-29 v2 with three heads), and the
  competitors' editors ``G_PA`` (pix2pix-style) and ``G_Att`` (AttGAN-style);
- :mod:`~fer_core.methods.compgan.algorithm`: Algorithm 1 (two branches x four steps, eight tagged images);
- :mod:`~fer_core.methods.compgan.losses`: Eqs. (1)-(13);
- :mod:`~fer_core.methods.compgan.method`: training tuples, ``FclsTraining``, ``CompGAN``;
- :mod:`~fer_core.methods.compgan.competitors`: ``Pix2PixEditor``, ``AttGANEditor``;
- :mod:`~fer_core.methods.compgan.augment`: edits, the augmentation step, pose normalisation;
- :mod:`~fer_core.methods.compgan.experiments`: the chapter's plan (``CompGANStudy``) and tables;
- :mod:`~fer_core.methods.compgan.paper` / ``report``: the paper's numbers and claims, run-dependent prose.

Public API for other chapters (the comparison chapter)::

    train_compgan(images, expression, identity, view, *, steps=300, batch_size=8, width=8,
                  label_maps=True, residual=True, cls_steps=200, seed=0, device="auto") -> CompGANModel
        images: (N, C, S, S) float in [-1, 1], S a power of two >= 16;
        expression, identity, view: (N,) int64 codes (view: 0..V-1, e.g. the four F2ED views).
        Trains F_cls (LightCNN-29 v2, three heads) on the faces, then G(Exp) + G(Pose) by Algorithm 1
        and Eqs. (1)-(13) with the paper's lambda / mu weights. CPU-sized defaults; pass larger ones
        on a GPU. Returns the trained model (networks in eval mode, on the CPU).

    CompGANModel.edit(source, *, expression=None, view=None, source_expression=None,
                      source_view=None, source_identity=None, seed=0) -> (N, C, S, S) on the CPU
        source: (N, C, S, S) faces in [-1, 1]; expression / view: (N,) target codes (at least one;
        None keeps that attribute). The references (training faces carrying the target attribute,
        of another identity than source_identity where given) are drawn from the training faces,
        preferring the source's other attribute (source_expression / source_view, when known).
        Changing both runs G(Pose) then G(Exp) (Algorithm 1's branch a).

    CompGANModel.augment(n_per_class, *, novel_by="", novel=(), seed=0) -> dict
        Generated faces of the training set for the recogniser: "image" (M, C, S, S), "expression",
        "view", "identity" (M,) (see :func:`~fer_core.methods.compgan.augment.plan_augmentation`).
"""

from fer_core.methods.compgan.algorithm import *  # noqa: F401,F403
from fer_core.methods.compgan.algorithm import __all__ as _algorithm
from fer_core.methods.compgan.api import CompGANModel, train_compgan
from fer_core.methods.compgan.augment import *  # noqa: F401,F403
from fer_core.methods.compgan.augment import __all__ as _augment
from fer_core.methods.compgan.competitors import *  # noqa: F401,F403
from fer_core.methods.compgan.competitors import __all__ as _competitors
from fer_core.methods.compgan.losses import *  # noqa: F401,F403
from fer_core.methods.compgan.losses import __all__ as _losses
from fer_core.methods.compgan.method import *  # noqa: F401,F403
from fer_core.methods.compgan.method import __all__ as _method
from fer_core.methods.compgan.nets import *  # noqa: F401,F403
from fer_core.methods.compgan.nets import __all__ as _nets

__all__ = [*_nets, *_algorithm, *_losses, *_method, *_competitors, *_augment, "train_compgan", "CompGANModel"]
