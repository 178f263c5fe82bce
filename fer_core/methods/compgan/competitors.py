"""The single-generator competitors of Table 4 on Comp-GAN's data: a pix2pix-style and an AttGAN-style editor.

Paper: Comp-GAN / F2ED (Sec. 5.2.2, Table 4; Fig. 16's "Generator P&A"). The paper compares with
Cycle-GAN, Pix2Pix, VAE/GAN and AttGAN "to fine-tune the same feature extractor" with "the same
number of generated images". We build the two the issue asks for, on the same editor network
and discriminator as Comp-GAN, each with its own paper's objective:

- :class:`Pix2PixEditor`: one editor ``G_PA(I, I_ref)`` changes pose and expression at once to the
  reference's, trained on the real target face ``(it, pt, et)`` with ``L_GAN + λ L1`` (λ = 100,
  pix2pix's value);
- :class:`AttGANEditor`: ``G_Att(I, (e_t, p_t))`` driven by target labels only, trained with
  AttGAN's three terms: adversarial, D's attribute classification of the edited face (λ2 = 10),
  and reconstruction of the face from its own labels (λ1 = 100); D learns the attributes on
  real faces (λ3 = 1).

Deviation from the papers: both use the non-saturating BCE adversarial loss of
:mod:`fer_core.losses` (AttGAN uses WGAN-GP), and D is Comp-GAN's AttGAN-style D.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fer_core.methods.compgan.losses import L_adv_D, L_adv_G
from fer_core.methods.compgan.nets import D, G_Att, G_PA, CompGANConfig
from fer_core.train import Method, StepContext, make_adam

__all__ = ["Pix2PixEditor", "AttGANEditor"]


class Pix2PixEditor(Method):
    """One editor for pose and expression together, trained as pix2pix (``L_GAN + λ L1``) on
    :class:`~fer_core.methods.compgan.method.Quadruples` batches."""

    def __init__(self, config: CompGANConfig, *, lam: float = 100.0, lr: float = 2e-4,
                 betas: tuple[float, float] = (0.5, 0.999)):
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        self.config, self.lam = config, float(lam)
        self.nets = nn.ModuleDict({"G": G_PA(config), "D": D(config)})
        self.optimizers = {k: make_adam(m.parameters(), lr=lr, betas=betas) for k, m in self.nets.items()}
        self.schedulers = {}

    def edit(self, x: torch.Tensor, ref: torch.Tensor, et: torch.Tensor, pt: torch.Tensor) -> torch.Tensor:
        return self.nets["G"](x, ref, (et, pt) if self.config.label_maps else ())

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        x, truth = batch["image"], batch["gt_pt_et"]
        with ctx.autocast():
            fake = self.edit(x, batch["r_pt_et"], batch["et"], batch["pt"])
            d = self.nets["D"](torch.cat([x, fake.detach()]))["adv"].float()
        loss_D = L_adv_D(*d.chunk(2))
        ctx.update("D", loss_D)
        with ctx.autocast():
            d_fake = self.nets["D"](fake)["adv"].float()
        l1 = (fake.float() - truth).abs().mean()
        loss_G = L_adv_G(d_fake) + self.lam * l1
        ctx.update("G", loss_G)
        return {"L_D": loss_D.detach(), "L_G": loss_G.detach(), "L1": l1.detach()}


class AttGANEditor(Method):
    """An attribute editor (no reference face), trained as AttGAN on :class:`Quadruples` batches
    (only the source and its labels are used: AttGAN needs no paired target)."""

    def __init__(self, config: CompGANConfig, *, lam_rec: float = 100.0, lam_cls_G: float = 10.0,
                 lam_cls_D: float = 1.0, lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999)):
        if min(lam_rec, lam_cls_G, lam_cls_D) < 0:
            raise ValueError("AttGAN's weights must be >= 0")
        self.config, self.lam = config, (float(lam_rec), float(lam_cls_G), float(lam_cls_D))
        self.nets = nn.ModuleDict({"G": G_Att(config), "D": D(config)})
        self.optimizers = {k: make_adam(m.parameters(), lr=lr, betas=betas) for k, m in self.nets.items()}
        self.schedulers = {}

    def edit(self, x: torch.Tensor, et: torch.Tensor, pt: torch.Tensor) -> torch.Tensor:
        return self.nets["G"](x, None, (et, pt))

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        x, es, ps, et, pt = batch["image"], batch["es"], batch["ps"], batch["et"], batch["pt"]
        lam_rec, lam_cls_G, lam_cls_D = self.lam
        with ctx.autocast():
            fake = self.edit(x, et, pt)
            out = self.nets["D"](torch.cat([x, fake.detach()]))
        B = len(x)
        adv = out["adv"].float()
        loss_D = L_adv_D(adv[:B], adv[B:]) + lam_cls_D * (F.cross_entropy(out["expression"][:B].float(), es)
                                                          + F.cross_entropy(out["pose"][:B].float(), ps))
        ctx.update("D", loss_D)
        with ctx.autocast():
            d = self.nets["D"](fake)
            rec = self.edit(x, es, ps)
        cls = F.cross_entropy(d["expression"].float(), et) + F.cross_entropy(d["pose"].float(), pt)
        l_rec = (rec.float() - x).abs().mean()
        loss_G = L_adv_G(d["adv"].float()) + lam_cls_G * cls + lam_rec * l_rec
        ctx.update("G", loss_G)
        return {"L_D": loss_D.detach(), "L_G": loss_G.detach(), "L_cls": cls.detach(), "L_rec": l_rec.detach()}
