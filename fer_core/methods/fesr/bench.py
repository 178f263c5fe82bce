"""FESR's ``fer bench`` entry: the joint stage's step (D_z, D_img with WGAN-GP, R and G updates)."""

from __future__ import annotations

from fer_core.bench import BenchCase, BenchConfig, image_batch, register_bench
from fer_core.methods.fesr.method import FESR, fesr_variant
from fer_core.methods.fesr.nets import FESGANConfig, RConfig
from fer_core.nets.lightcnn import LightCNN29v2


def _fesr(cfg: BenchConfig) -> BenchCase:
    # paper: Table I/II at 128 px; quick: Table I rescaled to half width
    gan = FESGANConfig.at(cfg.size) if cfg.profile == "paper" else FESGANConfig.at(cfg.size, width=32)
    lightcnn = LightCNN29v2()  # random weights stand in for the published identity network
    method = FESR(fesr_variant("FESR_JL", gan=gan, r=RConfig(image_size=cfg.size), P_pre=0), F_id=lightcnn,
                  R_stem=lightcnn)
    return BenchCase(method, image_batch(cfg))


register_bench("fesr", _fesr, quick=(32, 2), paper=(128, 16),
               description="FESR_JL joint stage: D_z, D_img (WGAN-GP), R and G updates (fer_core.methods.fesr)",
               replace=True)
