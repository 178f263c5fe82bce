"""JESRL's ``fer bench`` entries.

- ``jesrl``: one D+G step of the switch GAN at the authors' configuration (Table I widths, the authors'
  code's generator with skips, 128 px, 10 pairs): ``D1``/``D2`` on real, transferred and interpolated
  faces, then ``G`` with L_adv, L_inter, L_r, L_p, TV. The perceptual network and ``C`` are left out,
  as in the reference measurement of the authors' network definitions (2.32 s per D+G step, 4.3 pairs/s,
  on the book's 2-core machine class with 2 threads, torch 2.13 CPU; :data:`AUTHORS_REFERENCE_S`).
- ``jesrl_full``: one whole iteration of the paper's method (``Ours``: D, G with L_per on a VGG-19, and
  ``C`` = VGG-19 ⊕ ``G_enc`` end to end).
"""

from __future__ import annotations

import torch

from fer_core.bench import BenchCase, BenchConfig, image_batch, register_bench
from fer_core.methods.jesrl.method import JESRL, jesrl_variant
from fer_core.methods.jesrl.nets import ClassifierConfig, PerceptualNet, SwitchGANConfig, VGG19Trunk

__all__ = ["AUTHORS_REFERENCE_S"]

#: Seconds per D+G step of the authors' own network definitions at 128 px, batch 10 (the issue's reference).
AUTHORS_REFERENCE_S = 2.32
_N = 6


def _pool(cfg: BenchConfig) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {"image": torch.rand(4 * cfg.batch_size, 3, cfg.size, cfg.size, generator=g) * 2 - 1,
            "expression": torch.arange(4 * cfg.batch_size) % _N}


def _gan_step(cfg: BenchConfig) -> BenchCase:
    width = 64 if cfg.profile == "paper" else 16
    gan = SwitchGANConfig.at(cfg.size, width=width, num_classes=_N)
    clf = ClassifierConfig(image_size=cfg.size, num_classes=_N, vgg_width=4, fuse=8, fc=(8, 8))
    config = jesrl_variant("Official", alternate=10**9, gan=gan, clf=clf, pairs=cfg.batch_size,
                           lambdas=(10.0, 0.0, 5.0, 5.0))  # alternate: every iteration is a GAN turn
    method = JESRL(config, train=_pool(cfg))
    return BenchCase(method, image_batch(cfg, classes=_N), images=cfg.batch_size)


def _full_step(cfg: BenchConfig) -> BenchCase:
    width, vgg = (64, 64) if cfg.profile == "paper" else (8, 4)
    gan = SwitchGANConfig.at(cfg.size, width=width, num_classes=_N)
    clf = ClassifierConfig(image_size=cfg.size, num_classes=_N, vgg_width=vgg, batch_norm=cfg.profile != "paper",
                           fuse=8 * vgg, fc=(64 * vgg, 64 * vgg) if cfg.profile == "paper" else (64, 64))
    F = PerceptualNet(VGG19Trunk(vgg, batch_norm=clf.batch_norm))  # random weights stand in for ImageNet's
    method = JESRL(jesrl_variant("Ours", gan=gan, clf=clf, pairs=cfg.batch_size, optimizer_C="adam"),
                   train=_pool(cfg), perceptual=F)
    return BenchCase(method, image_batch(cfg, classes=_N), images=cfg.batch_size)


register_bench("jesrl", _gan_step, quick=(32, 10), paper=(128, 10),
               description="JESRL D+G step at the authors' configuration (fer_core.methods.jesrl)", replace=True)
register_bench("jesrl_full", _full_step, quick=(32, 8), paper=(128, 10),
               description="JESRL whole iteration: D, G with L_per, C end to end (fer_core.methods.jesrl)",
               replace=True)
