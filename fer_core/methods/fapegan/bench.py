"""FaPE-GAN's ``fer bench`` entries: the FaPE-GAN step (D, then G by Eq. 3) and the Fa-Net step (SGD)."""

from __future__ import annotations

import torch

from fer_core.bench import BenchCase, BenchConfig, image_batch, register_bench
from fer_core.methods.fapegan.method import FaNetTraining, FaPEGAN
from fer_core.methods.fapegan.nets import FaNet, FaNetConfig, FaPEConfig


def _fapegan(cfg: BenchConfig) -> BenchCase:
    # paper: width 64 at the profile's size; quick: width 16
    method = FaPEGAN(FaPEConfig(image_size=cfg.size, width=64 if cfg.profile == "paper" else 16))
    batch = image_batch(cfg, classes=54)
    g = torch.Generator().manual_seed(1)
    batch["target"] = torch.rand(batch["image"].shape, generator=g) * 2 - 1
    batch["pose"] = (torch.rand(cfg.batch_size, 1, cfg.size, cfg.size, generator=g) > 0.97).float() * 2 - 1
    return BenchCase(method, batch)


def _fanet(cfg: BenchConfig) -> BenchCase:
    # paper: the published LightCNN-29 v2 widths at the profile's size; quick: the small profile's
    if cfg.profile == "paper":
        config = FaNetConfig(num_classes=54, input_size=cfg.size)
    else:
        config = FaNetConfig(num_classes=54, input_size=cfg.size, widths=(8, 16, 32, 16, 16), layers=(0, 1, 1, 1),
                             feature_dim=64, batch_norm=True)
    return BenchCase(FaNetTraining(FaNet(config), lr=0.01, lr_step=10), image_batch(cfg, classes=54))


register_bench("fapegan", _fapegan, quick=(32, 16), paper=(128, 32),
               description="FaPE-GAN step: D (Eqs. 1-2), then G_FaPE (Eq. 3) (fer_core.methods.fapegan)", replace=True)
register_bench("fanet", _fanet, quick=(32, 32), paper=(128, 128),
               description="Fa-Net step: LightCNN-29 v2 + head, SGD momentum 0.9 (fer_core.methods.fapegan)",
               replace=True)
