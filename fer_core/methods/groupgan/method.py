"""GroupGAN's training (Algorithm 1) and the four frameworks of Table 1: CNN, DCGAN, GroupGAN(1V2), GroupGAN(2V2).

Paper: "GroupGAN: weak expression recognition by magnifying expressions" (Niu et al., KBS 2022).

Algorithm 1 first pre-trains E on peak faces (:class:`PeakPretraining`, E with C as one
BaseNet) and G's encoder-decoder on faces (:class:`AutoencoderPretraining`); every framework
then continues from those (:func:`continue_from`). One iteration of :meth:`GroupGAN.step`:

- update D (Eq. 4): real faces (weak and peak frames) vs G's faces;
- update D' (Eq. 5; 1V2 and 2V2): peak faces vs G's faces;
- update G (Eq. 6): content to the paired peak, fool D and D', C's cross-entropy on its faces;
- update E with C (Eq. 13; 2V2): C's cross-entropy on G's faces (and on the real peaks), and fool D
  and D' through ``F_exp``; in DCGAN and 1V2 there is no E feeding G, and C is trained on G's faces
  and the real peak faces by Eq. (11).

The framework ``CNN`` trains the BaseNet on the weak and peak frames by Eq. (11) alone.
Recognition (:func:`predict`) classifies ``C(E(G(x_weak, F_exp)))`` (``C(E(x_weak))`` for CNN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn

from fer_core.methods.groupgan import losses as L
from fer_core.methods.groupgan.nets import BASENETS, BaseNet, Discriminator, Generator, GroupGANConfig, base_net
from fer_core.nets.modes import frozen_statistics, frozen_weights
from fer_core.train import Method, StepContext, make_adam

__all__ = ["FRAMEWORKS", "GroupGANSettings", "GroupGAN", "PeakPretraining", "AutoencoderPretraining",
           "PairedFrames", "Frames", "continue_from", "predict", "magnify", "augment_pair"]

#: Table 1's frameworks, in its column order.
FRAMEWORKS = ("CNN", "DCGAN", "1V2", "2V2")


@dataclass(frozen=True)
class GroupGANSettings:
    """One framework of Table 1 on one BaseNet, with Algorithm 1's rates and energy weights (Sec. 4.2).

    ``alpha_G``, ``beta_G``, ``alpha_E``, ``beta_E``: the adversarial weights (2e-3 in the paper);
    ``gamma_G``: the weight of C's cross-entropy in Eq. (6) (not stated; ours); ``lr``: G's, D's and
    D''s rate; ``lr_C``: the BaseNet's (E and C); ``optimizer``: ``"sgd"`` (the paper: momentum 0.9,
    weight decay 0.005) or ``"adam"``; ``crop_pad``: pixels of reflection padding before a random
    crop of the original size (the paper: 144 -> 128, i.e. 8 px at 128); ``flip``: random horizontal
    flips; ``form``: the generator's adversarial term (see :func:`~fer_core.methods.groupgan.losses.adversarial_G`).
    """

    framework: str = "2V2"
    basenet: str = "vgg13"
    num_classes: int = 7
    gan: GroupGANConfig = GroupGANConfig()
    fc: tuple[int, ...] = (512, 256)
    dropout: float = 0.5
    alpha_G: float = 2e-3
    beta_G: float = 2e-3
    gamma_G: float = 1e-2
    alpha_E: float = 2e-3
    beta_E: float = 2e-3
    lr: float = 1e-4
    lr_C: float = 1e-4
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-3
    crop_pad: int = 0
    flip: bool = True
    form: str = "nonsaturating"

    def __post_init__(self) -> None:
        if self.framework not in FRAMEWORKS:
            raise ValueError(f"unknown framework {self.framework!r}; Table 1 has {list(FRAMEWORKS)}")
        if self.basenet not in BASENETS:
            raise ValueError(f"unknown BaseNet {self.basenet!r}; Table 1 has {list(BASENETS)}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if min(self.alpha_G, self.beta_G, self.gamma_G, self.alpha_E, self.beta_E) < 0 or min(self.lr, self.lr_C) <= 0:
            raise ValueError("energy weights must be >= 0 and learning rates > 0")
        if self.framework == "2V2" and self.gan.cond_dim != self.fc[-1]:
            raise ValueError(f"2V2 concatenates F_exp (the BaseNet's {self.fc[-1]} features) at G's bottleneck: "
                             f"gan.cond_dim must be {self.fc[-1]}, got {self.gan.cond_dim}")

    @property
    def uses_G(self) -> bool:
        return self.framework != "CNN"

    @property
    def uses_D_prime(self) -> bool:
        return self.framework in ("1V2", "2V2")

    @property
    def uses_E(self) -> bool:
        """2V2: E's features enter G's bottleneck and condition D and D'."""
        return self.framework == "2V2"


def _optimizer(params, s: GroupGANSettings, lr: float) -> torch.optim.Optimizer:
    if s.optimizer == "adam":
        return make_adam(params, lr=lr, betas=(0.5, 0.999))
    return torch.optim.SGD(params, lr=lr, momentum=s.momentum, weight_decay=s.weight_decay)


def augment_pair(x: torch.Tensor, y: torch.Tensor, *, crop_pad: int, flip: bool,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random crop and flip for a weak face and its peak (Sec. 4.2): ``(B, C, S, S)`` each."""
    B, _, S, _ = x.shape
    if crop_pad:
        both = nn.functional.pad(torch.cat([x, y], 1), [crop_pad] * 4, mode="reflect")
        off = torch.randint(0, 2 * crop_pad + 1, (2,), generator=generator).tolist()
        both = both[..., off[0]:off[0] + S, off[1]:off[1] + S]
        x, y = both.split(x.shape[1], dim=1)
    if flip:
        m = (torch.rand(B, generator=generator) < 0.5).to(x.device)[:, None, None, None]
        x, y = torch.where(m, x.flip(-1), x), torch.where(m, y.flip(-1), y)
    return x.contiguous(), y.contiguous()


class GroupGAN(Method):
    """The networks, optimisers and Algorithm 1 step of one framework (:class:`GroupGANSettings`).

    Nets: ``C`` (the BaseNet: E and C) always; ``G`` and ``D`` except in CNN; ``D_prime`` in 1V2 and
    2V2. Optimisers: ``E`` and ``C`` (the BaseNet without / only its last layer), ``G``, ``D``, ``D_prime``.
    A batch holds ``image`` (weak faces ``(B, C, S, S)``), ``peak`` (their peak faces, same shape) and
    ``expression`` ``(B,)``.
    """

    def __init__(self, settings: GroupGANSettings):
        self.settings = s = settings
        nets: dict[str, nn.Module] = {"C": base_net(s.basenet, num_classes=s.num_classes, fc=s.fc, dropout=s.dropout)}
        if s.uses_G:
            cond = s.gan.cond_dim if s.uses_E else 0  # DCGAN/1V2: G's F_exp slot gets zeros, D no condition
            nets["G"] = Generator(s.gan)
            nets["D"] = Discriminator(s.gan, cond_dim=cond)
            if s.uses_D_prime:
                nets["D_prime"] = Discriminator(s.gan, cond_dim=cond)
        self.nets = nn.ModuleDict(nets)
        net: BaseNet = nets["C"]
        self.optimizers = {"E": _optimizer(net.E_parameters(), s, s.lr_C), "C": _optimizer(net.C_parameters(), s, s.lr_C)}
        for name in ("G", "D", "D_prime"):
            if name in nets:
                self.optimizers[name] = _optimizer(nets[name].parameters(), s, s.lr)
        self.schedulers = {}

    # -- helpers ---------------------------------------------------------------------------------------
    def F_exp(self, x: torch.Tensor) -> torch.Tensor | None:
        """E's expression features of ``x`` in 2V2 (``(B, 256)``), else None (G gets zeros, D no condition)."""
        return self.nets["C"].E(x) if self.settings.uses_E else None

    def _augment(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.settings
        return augment_pair(batch["image"], batch["peak"], crop_pad=s.crop_pad, flip=s.flip)

    # -- the updates of Algorithm 1, one function per energy ---------------------------------------------------
    def update_C_only(self, x: torch.Tensor, y: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        """The CNN framework: E and C by Eq. (11) on real faces."""
        logits = self.nets["C"](x)
        loss = L.Phi_C(logits, y)
        ctx.update(("E", "C"), loss)
        return {"Phi_C": loss, "acc_C": (logits.argmax(1) == y).float().mean()}

    def update_D(self, name: str, real: torch.Tensor, fake: torch.Tensor, F: torch.Tensor | None,
                 ctx: StepContext) -> torch.Tensor:
        """Eq. (4) for D (``real``: real faces) or Eq. (5) for D' (``real``: peak faces); one batched call."""
        cond = None if F is None else torch.cat([F, F]).detach()
        logits = self.nets[name](torch.cat([real, fake.detach()]), cond)
        loss = L.V_D(logits[: len(real)], logits[len(real):])
        ctx.update(name, loss)
        return loss

    def update_G(self, x_peak: torch.Tensor, fake: torch.Tensor, F: torch.Tensor | None, y: torch.Tensor,
                 ctx: StepContext) -> L.EnergiesG:
        """Eq. (6): content to the paired peak, fool D (and D'), C's cross-entropy (not in DCGAN, Eq. 3)."""
        s, C = self.settings, self.nets["C"]
        critics = [self.nets[n] for n in ("D", "D_prime") if n in self.nets]
        with frozen_weights(C, *critics), frozen_statistics(C):
            cond = None if F is None else F.detach()
            logits_D = self.nets["D"](fake, cond)
            logits_D2 = self.nets["D_prime"](fake, cond) if s.uses_D_prime else None
            logits_C = C(fake) if s.framework != "DCGAN" else None
            e = L.V_G(x_peak, fake, logits_D, logits_D2, logits_C, y, alpha_G=s.alpha_G, beta_G=s.beta_G,
                      gamma_G=s.gamma_G, form=s.form)
        ctx.update("G", e.total)
        return e

    def update_C_on_fakes(self, fake: torch.Tensor, x_peak: torch.Tensor, y: torch.Tensor,
                          ctx: StepContext) -> dict[str, torch.Tensor]:
        """DCGAN and 1V2: C (the whole BaseNet) learns G's faces and the real peak faces by Eq. (11)
        ("C learns expression features of the real and fake images", Sec. 3.1), in one batched call."""
        logits = self.nets["C"](torch.cat([fake.detach(), x_peak]))
        loss = L.Phi_C(logits, torch.cat([y, y]))
        ctx.update(("E", "C"), loss)
        return {"Phi_C": loss, "acc_C": (logits[: len(y)].argmax(1) == y).float().mean()}

    def update_E(self, x: torch.Tensor, x_peak: torch.Tensor, y: torch.Tensor,
                 ctx: StepContext) -> dict[str, torch.Tensor]:
        """Eq. (13) (2V2): a fresh ``F_exp = E(x)``, G's face from it (G's weights frozen, gradients pass
        through G into ``F_exp``), D and D' judge it given ``F_exp``, C classifies it; as in DCGAN and 1V2,
        C also classifies the real peak faces (one batched call with G's faces)."""
        s, C = self.settings, self.nets["C"]
        with frozen_weights(self.nets["G"], self.nets["D"], self.nets["D_prime"]):
            F = C.E(x)
            fake = self.nets["G"](x, F)
            logits_C = C(torch.cat([fake, x_peak]))
            loss = L.V_E(logits_C, torch.cat([y, y]), self.nets["D"](fake, F), self.nets["D_prime"](fake, F),
                         alpha_E=s.alpha_E, beta_E=s.beta_E, form=s.form)
        ctx.update(("E", "C"), loss)
        return {"V_E": loss, "acc_C": (logits_C[: len(y)].argmax(1) == y).float().mean()}

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        s = self.settings
        x, x_peak = self._augment(batch)
        y = batch["expression"]
        if not s.uses_G:
            out = self.update_C_only(torch.cat([x, x_peak]), torch.cat([y, y]), ctx)
            return {k: v.detach() for k, v in out.items()}
        with torch.no_grad():
            F = self.F_exp(x)
        fake = self.nets["G"](x, F)
        half = (torch.arange(len(x), device=x.device) % 2 == 0)[:, None, None, None]
        X_real = torch.where(half, x, x_peak)  # real faces: weak and peak frames
        out: dict[str, torch.Tensor] = {"V_D": self.update_D("D", X_real, fake, F, ctx)}
        if s.uses_D_prime:
            out["V_D_prime"] = self.update_D("D_prime", x_peak, fake, F, ctx)
        e = self.update_G(x_peak, fake, F, y, ctx)
        out.update(V_G=e.total, content=e.content, adv_D=e.adv_D, adv_D_prime=e.adv_D_prime, Phi_C_G=e.cls)
        out.update(self.update_E(x, x_peak, y, ctx) if s.uses_E else self.update_C_on_fakes(fake, x_peak, y, ctx))
        return {k: v.detach() for k, v in out.items()}


class PeakPretraining(Method):
    """Algorithm 1, "Pre-train E on peak expression sets": the BaseNet (E and C) by Eq. (11) on peak faces."""

    def __init__(self, settings: GroupGANSettings, *, lr: float | None = None):
        self.settings = s = settings
        net = base_net(s.basenet, num_classes=s.num_classes, fc=s.fc, dropout=s.dropout)
        self.nets = nn.ModuleDict({"C": net})
        self.optimizers = {"C": make_adam(net.parameters(), lr=lr or 1e-3)}
        self.schedulers = {}

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        x, _ = augment_pair(batch["image"], batch["image"], crop_pad=self.settings.crop_pad, flip=self.settings.flip)
        logits = self.nets["C"](x)
        loss = L.Phi_C(logits, batch["expression"])
        ctx.update("C", loss)
        return {"Phi_C": loss.detach(), "acc": (logits.argmax(1) == batch["expression"]).float().mean()}


class AutoencoderPretraining(Method):
    """Algorithm 1, "Pre-train the encoder and decoder on facial images": ``||x - G(x, 0)||^2``."""

    def __init__(self, gan: GroupGANConfig, *, lr: float = 1e-3):
        self.nets = nn.ModuleDict({"G": Generator(gan)})
        self.optimizers = {"G": make_adam(self.nets["G"].parameters(), lr=lr, betas=(0.5, 0.999))}
        self.schedulers = {}

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        x = batch["image"]
        loss = L.content_loss(x, self.nets["G"](x))
        ctx.update("G", loss)
        return {"reconstruction": loss.detach()}


def continue_from(method: GroupGAN, *, C: nn.Module | None = None, G: nn.Module | None = None) -> GroupGAN:
    """Load the pre-trained BaseNet (``C``, from :class:`PeakPretraining`) and generator (``G``, from
    :class:`AutoencoderPretraining`) into ``method``'s networks (the optimisers start fresh)."""
    if C is not None:
        method.nets["C"].load_state_dict(C.state_dict())
    if G is not None and "G" in method.nets:
        method.nets["G"].load_state_dict(G.state_dict())
    return method


class PairedFrames(torch.utils.data.Dataset):
    """Weak frames with their paired peak frames, held as tensors (a device-resident dataset for ``fit``).

    Args:
        images: ``(N, C, S, S)`` every face of a split part; labels ``(N,)``.
        pairs: ``(P, 2)`` rows ``(weak, peak)`` into ``images`` (:func:`~fer_core.data.protocols.groupgan_frames`).

    Items: ``image`` (the weak face), ``peak``, ``expression``.
    """

    is_device_resident = True

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, pairs: Any):
        pairs = torch.as_tensor(pairs, dtype=torch.long).reshape(-1, 2)
        if not len(pairs):
            raise ValueError("PairedFrames needs at least one (weak, peak) pair")
        self.data = {"image": images[pairs[:, 0].to(images.device)], "peak": images[pairs[:, 1].to(images.device)],
                     "expression": labels[pairs[:, 0].to(labels.device)]}

    def __len__(self) -> int:
        return len(self.data["image"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.data.items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.data["image"].device)
        return {k: v.index_select(0, idx) for k, v in self.data.items()}


class Frames(PairedFrames):
    """Faces at ``rows`` of a split part alone (``image``, ``expression``): the pre-training sets."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, rows: Any):
        rows = torch.as_tensor(rows, dtype=torch.long)
        if not len(rows):
            raise ValueError("Frames needs at least one row")
        self.data = {"image": images[rows.to(images.device)], "expression": labels[rows.to(labels.device)]}


@torch.no_grad()
def magnify(method: GroupGAN, x: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """G's magnified faces of ``x`` ``(N, C, S, S)`` (the input itself for CNN), networks in eval mode."""
    if "G" not in method.nets:
        return x
    G, C = method.nets["G"], method.nets["C"]
    was = (G.training, C.training)
    G.eval(), C.eval()
    try:
        out = [G(xb, method.F_exp(xb)) for xb in x.split(batch_size)]
    finally:
        G.train(was[0]), C.train(was[1])
    return torch.cat(out)


@torch.no_grad()
def predict(method: GroupGAN, x: torch.Tensor, *, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Recognition of ``x`` ``(N, C, S, S)``: ``(logits (N, K), features (N, 256))`` of ``C(E(G(x)))``
    (``C(E(x))`` for CNN), networks in eval mode."""
    faces = magnify(method, x, batch_size=batch_size)
    C = method.nets["C"]
    was = C.training
    C.eval()
    try:
        feats = torch.cat([C.E(xb) for xb in faces.split(batch_size)])
    finally:
        C.train(was)
    return C.C(feats), feats
