"""Comp-GAN's ``fer bench`` entries: the Comp-GAN step (Algorithm 1, D, then G(Pose) and G(Exp) by Eqs. 12-13)
and the LightCNN-29 v2 recogniser step (SGD, x0.457 schedule)."""

from __future__ import annotations

import torch

from fer_core.bench import BenchCase, BenchConfig, image_batch, register_bench
from fer_core.methods.compgan.method import TUPLE_COLUMNS, CompGAN, FclsTraining
from fer_core.methods.compgan.nets import CompGANConfig, F_cls, FclsConfig


def _fcls_config(cfg: BenchConfig, heads: int = 54) -> FclsConfig:
    if cfg.profile == "paper":  # the published LightCNN-29 v2 widths at the profile's size
        return FclsConfig(n_expressions=heads, n_poses=4, n_identities=119, input_size=cfg.size)
    return FclsConfig(n_expressions=heads, n_poses=4, n_identities=119, input_size=cfg.size,
                      widths=(8, 16, 32, 16, 16), layers=(0, 1, 1, 1), feature_dim=64, batch_norm=True)


def _compgan(cfg: BenchConfig) -> BenchCase:
    # paper: width 64, references only (no label maps); quick: the small profile's width 8 with label maps
    paper = cfg.profile == "paper"
    config = CompGANConfig(image_size=cfg.size, width=64 if paper else 8, n_expressions=54, n_poses=4,
                           label_maps=not paper)
    method = CompGAN(config, F_cls(_fcls_config(cfg)).eval())
    g = torch.Generator().manual_seed(1)
    B = cfg.batch_size
    batch = {("image" if k == "source" else k): torch.rand(B, 3, cfg.size, cfg.size, generator=g) * 2 - 1
             for k in TUPLE_COLUMNS}
    batch.update(it=torch.randint(0, 119, (B,), generator=g), es=torch.randint(0, 54, (B,), generator=g),
                 et=torch.randint(0, 54, (B,), generator=g), ps=torch.randint(0, 4, (B,), generator=g),
                 pt=torch.randint(0, 4, (B,), generator=g))
    return BenchCase(method, batch)


def _recogniser(cfg: BenchConfig) -> BenchCase:
    method = FclsTraining(F_cls(_fcls_config(cfg)), heads=("expression",), lr=0.01, lr_step=10)
    return BenchCase(method, image_batch(cfg, classes=54))


register_bench("compgan", _compgan, quick=(32, 8), paper=(128, 64),
               description="Comp-GAN step: Algorithm 1, D, then G(Pose)/G(Exp) (Eqs. 1-13) (fer_core.methods.compgan)",
               replace=True)
register_bench("compgan_lightcnn", _recogniser, quick=(32, 32), paper=(128, 64),
               description="Comp-GAN recogniser L.: LightCNN-29 v2, SGD x0.457 (fer_core.methods.compgan)",
               replace=True)
