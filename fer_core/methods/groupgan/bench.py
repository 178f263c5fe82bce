"""GroupGAN's ``fer bench`` entries: one 2V2 iteration of Algorithm 1 (D, D', G, E updates) on VGG13 and ResNet18."""

from __future__ import annotations

from fer_core.bench import BenchCase, BenchConfig, image_batch, register_bench
from fer_core.methods.groupgan.method import GroupGAN, GroupGANSettings
from fer_core.methods.groupgan.nets import GroupGANConfig


def _factory(basenet: str):
    def build(cfg: BenchConfig) -> BenchCase:
        # paper: Sec. 4.2 (128 px crops, batch 4, SGD 1e-4, momentum 0.9, weight decay 0.005, adversarial 2e-3);
        # quick: the same step at 32 px with a narrower G and D
        gan = GroupGANConfig.at(cfg.size, width=32 if cfg.profile == "paper" else 8)
        method = GroupGAN(GroupGANSettings(framework="2V2", basenet=basenet, num_classes=6, gan=gan,
                                           crop_pad=8 if cfg.profile == "paper" else 0))
        batch = image_batch(cfg, classes=6)
        batch["peak"] = batch["image"].flip(0)
        return BenchCase(method, batch)
    return build


for _name in ("vgg13", "resnet18"):
    register_bench(f"groupgan-2v2-{_name}", _factory(_name), quick=(32, 4), paper=(128, 4),
                   description=f"GroupGAN(2V2) on {_name}: D, D', G and E updates of Algorithm 1 "
                               "(fer_core.methods.groupgan)", replace=True)
