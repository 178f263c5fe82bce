"""FaPE-GAN and Fa-Net on the shared loop: pose transfer, augmentation, classification.

Paper: FaPE-GAN / F2ED (Sec. 4.2, Sec. 5 "Implementation details", Fig. 5).

- :class:`FaPEGAN` trains ``G_FaPE`` and ``D`` on pairs of faces of the same person and
  expression in two views (:class:`PairedViews`): each step updates D with ``L_D = -L_GAN``
  (Eqs. 1-2), then G with ``L_GAN + λ·L_L1`` (Eq. 3); Adam, 2e-4, β = (0.5, 0.999).
- :func:`augment` turns training faces into other views with a trained ``G_FaPE``, drawing
  sources and target views so that the augmented set is balanced (the paper's "key idea ...
  to produce balanced training set"): a source is drawn with weight ``1 / n(expression)`` and
  its target view with weight ``1 / n(view)`` among the other views.
- :class:`FaNetTraining` trains Fa-Net by cross-entropy with SGD, momentum 0.9, the rate
  multiplied by 0.457 every ``lr_step`` updates (the paper: "every 10 steps"; we read epochs).

Deviation from the paper: the pose map of an augmented face is the landmark map of a real
training face in the target view -- of the same person and expression when the training set
has it, else of the same expression, else any face in that view. The paper does not say
where the target poses of its augmentation come from.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from fer_core.data.memory import TensorFaces
from fer_core.evaluate import eval_mode
from fer_core.methods.fapegan.losses import LAMBDA, L_D, L_G_FaPE, L_L1
from fer_core.methods.fapegan.nets import D, FaNet, FaPEConfig, G_FaPE
from fer_core.methods.fapegan.posemap import pose_map
from fer_core.train import Method, StepContext, make_adam, sgd_with_steps

__all__ = ["TensorFaces", "PairedViews", "FaPEGAN", "FaNetTraining", "augment", "transfer", "view_pairs"]


def _codes(data: Mapping[str, torch.Tensor], what: str) -> np.ndarray:
    for key in ("identity", "expression", "view"):
        if key not in data:
            raise ValueError(f"{what} needs faces labelled with identity, expression and view; the data has no "
                             f"{key!r} (F2ED-style data: the f2ed_like synthetic world or the F2ED folders adapter)")
    return np.stack([data[k].cpu().numpy() for k in ("identity", "expression", "view")], 1)


def _landmarks(data: Mapping[str, torch.Tensor], what: str) -> torch.Tensor:
    if "landmarks" not in data:
        raise ValueError(f"{what} draws pose maps from 68 landmarks, and these faces have none. Use the synthetic "
                         "world (ground-truth landmarks), a dataset with landmark files (F2ED: <frame>.txt), or "
                         "install the faces extra (pip install -e '.[faces]') so the adapter detects them.")
    return data["landmarks"]


def view_pairs(data: Mapping[str, torch.Tensor]) -> np.ndarray:
    """``(M, 2)`` ordered row pairs ``(i, t)``: the same identity and expression, another view."""
    codes = _codes(data, "FaPE-GAN's training pairs")
    key = codes[:, 0].astype(np.int64) * (int(codes[:, 1].max()) + 1) + codes[:, 1]
    pairs = []
    for k in np.unique(key):
        rows = np.flatnonzero(key == k)
        a, b = np.meshgrid(rows, rows, indexing="ij")
        keep = codes[a, 2] != codes[b, 2]
        pairs.append(np.stack([a[keep], b[keep]], 1))
    out = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
    return out.astype(np.int64)


class PairedViews(Dataset):
    """FaPE-GAN's training pairs over a split's faces: items ``image`` ``I_i``, ``target`` ``I_t`` (same
    person and expression, another view) and ``pose`` ``I_P``, the pose map of ``I_t``.

    Args:
        faces: the split's faces (a :class:`~fer_core.data.memory.MemoryCachedDataset` or any object
            with ``data`` holding ``image``, ``identity``, ``expression``, ``view``, ``landmarks``).
    """

    is_device_resident = True

    def __init__(self, faces: Any):
        data = faces.data
        self.pairs = torch.from_numpy(view_pairs(data))
        if len(self.pairs) == 0:
            raise ValueError("FaPE-GAN needs pairs of one person and expression in two views; this split has none "
                             "(every (identity, expression) is seen in one view only)")
        self.images = data["image"]
        self.poses = pose_map(_landmarks(data, "FaPE-GAN").to(self.images.device), self.images.shape[-1])
        self.pairs = self.pairs.to(self.images.device)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        p = self.pairs[torch.as_tensor(indices, dtype=torch.long, device=self.pairs.device)]
        return {"image": self.images[p[:, 0]], "target": self.images[p[:, 1]], "pose": self.poses[p[:, 1]]}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}

    collate = staticmethod(TensorFaces.collate)


class FaPEGAN(Method):
    """G_FaPE and D trained by Eqs. (1)-(3) (Sec. 4.2, Sec. 5).

    Args:
        config: the networks' :class:`~fer_core.methods.fapegan.nets.FaPEConfig`.
        lam: λ of Eq. (3) (10 in the paper).
        lr, betas: Adam's (2e-4 and (0.5, 0.999) in the paper).
    """

    def __init__(self, config: FaPEConfig, *, lam: float = LAMBDA, lr: float = 2e-4,
                 betas: tuple[float, float] = (0.5, 0.999)):
        self.config, self.lam = config, float(lam)
        self.nets = nn.ModuleDict({"G": G_FaPE(config), "D": D(config)})
        self.optimizers = {k: make_adam(m.parameters(), lr=lr, betas=betas) for k, m in self.nets.items()}
        self.schedulers = {}

    def update_D(self, I_i: torch.Tensor, I_hat: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        """One D update with ``L_D = -L_GAN`` (Eqs. 1-2), real and generated faces in one call of D."""
        with ctx.autocast():
            logits = self.nets["D"](torch.cat([I_i, I_hat.detach()])).float()
            loss = L_D(*logits.chunk(2))
        ctx.update("D", loss)
        return loss

    def update_G(self, I_t: torch.Tensor, I_hat: torch.Tensor, ctx: StepContext) -> tuple[torch.Tensor, torch.Tensor]:
        """One G update with ``L_G_FaPE = L_GAN + λ·L_L1`` (Eq. 3); D's weights get no step."""
        with ctx.autocast():
            d_fake = self.nets["D"](I_hat).float()
        loss = L_G_FaPE(d_fake, I_t, I_hat.float(), lam=self.lam)
        ctx.update("G", loss)
        return loss, L_L1(I_t, I_hat.detach().float())

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        I_i, I_t, I_P = batch["image"], batch["target"], batch["pose"]
        with ctx.autocast():
            I_hat = self.nets["G"](I_i, I_P)
        loss_D = self.update_D(I_i, I_hat, ctx)
        loss_G, l1 = self.update_G(I_t, I_hat, ctx)
        return {"L_D": loss_D.detach(), "L_G": loss_G.detach(), "L_L1": l1}


class FaNetTraining(Method):
    """Fa-Net trained by cross-entropy with SGD (Sec. 5): momentum 0.9, rate × ``gamma`` every ``lr_step`` updates.

    Args:
        net: a :class:`~fer_core.methods.fapegan.nets.FaNet`.
        lr: the starting rate (the paper: 0.01 on F2ED, 2e-3 on FER2013, 5e-4 on JAFFE).
        lr_step: updates between two decays (the paper's "every 10 steps", read as 10 epochs).
        gamma: the decay factor (0.457).
        momentum: 0.9.
    """

    def __init__(self, net: FaNet, *, lr: float, lr_step: int, gamma: float = 0.457, momentum: float = 0.9,
                 weight_decay: float = 0.0):
        if lr <= 0 or lr_step < 1 or not 0 < gamma <= 1:
            raise ValueError(f"Fa-Net needs lr > 0, lr_step >= 1 and gamma in (0, 1]; got lr={lr}, "
                             f"lr_step={lr_step}, gamma={gamma}")
        self.nets = nn.ModuleDict({"FaNet": net})
        sgd, schedule = sgd_with_steps(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay,
                                       step=lr_step, gamma=gamma)
        self.optimizers, self.schedulers = {"FaNet": sgd}, {"FaNet": schedule}

    @property
    def net(self) -> FaNet:
        return self.nets["FaNet"]

    def update_FaNet(self, x: torch.Tensor, y: torch.Tensor, ctx: StepContext) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD update of Fa-Net on ``x`` (real and augmented faces alike) with labels ``y``."""
        with ctx.autocast():
            logits = self.net(x).float()
        loss = F.cross_entropy(logits, y)
        ctx.update("FaNet", loss)
        self.schedulers["FaNet"].step()
        return loss, (logits.argmax(1) == y).float().mean()

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        loss, acc = self.update_FaNet(batch["image"], batch["expression"], ctx)
        return {"loss": loss.detach(), "acc": acc, "lr": torch.tensor(self.optimizers["FaNet"].param_groups[0]["lr"])}


@torch.no_grad()
def transfer(G: G_FaPE, I_i: torch.Tensor, I_P: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """``G_FaPE(I_i, I_P)`` in eval mode, in batches: ``(N, C, S, S)`` faces, ``(N, 1, S, S)`` maps -> ``(N, C, S, S)``."""
    device = next(G.parameters()).device
    out = []
    with eval_mode(G):
        for lo in range(0, len(I_i), batch_size):
            out.append(G(I_i[lo:lo + batch_size].to(device), I_P[lo:lo + batch_size].to(device)).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, *I_i.shape[1:])


def _pick_pose_rows(codes: np.ndarray, sources: np.ndarray, views: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each (source, target view): a training row in that view, of the same person and expression
    when there is one, else of the same expression, else any (see the module's deviation)."""
    out = np.empty(len(sources), np.int64)
    for j, (s, v) in enumerate(zip(sources, views)):
        in_view = codes[:, 2] == v
        for mask in (in_view & (codes[:, 0] == codes[s, 0]) & (codes[:, 1] == codes[s, 1]),
                     in_view & (codes[:, 1] == codes[s, 1]), in_view):
            rows = np.flatnonzero(mask)
            if len(rows):
                out[j] = rows[rng.integers(len(rows))]
                break
    return out


def augment(G: G_FaPE, faces: Any, n: int, *, seed: int = 0, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """``n`` faces generated from a split's training faces in other views, balanced (module docstring).

    Args:
        G: a trained generator. faces: the split's training faces (``data`` as for :class:`PairedViews`).
        n: how many faces to generate. seed: the draw of sources, views and pose rows.

    Returns:
        ``image`` ``(n, C, S, S)`` (CPU), ``expression`` ``(n,)`` (the source's), ``view`` ``(n,)`` (the
        target view), ``source`` ``(n,)`` and ``pose_row`` ``(n,)`` (rows of ``faces``).
    """
    data = faces.data
    codes = _codes(data, "FaPE-GAN's augmentation")
    views = np.unique(codes[:, 2])
    if len(views) < 2:
        raise ValueError("augmentation by pose needs training faces in at least two views")
    rng = np.random.default_rng(seed)
    _, inv_e, count_e = np.unique(codes[:, 1], return_inverse=True, return_counts=True)
    w = 1.0 / count_e[inv_e]
    sources = rng.choice(len(codes), size=int(n), p=w / w.sum())
    count_v = {int(v): int((codes[:, 2] == v).sum()) for v in views}
    targets = np.empty(len(sources), np.int64)
    for j, s in enumerate(sources):
        others = np.array([v for v in views if v != codes[s, 2]])
        pv = np.array([1.0 / count_v[int(v)] for v in others])
        targets[j] = others[rng.choice(len(others), p=pv / pv.sum())]
    pose_rows = _pick_pose_rows(codes, sources, targets, rng)
    lm = _landmarks(data, "FaPE-GAN's augmentation")
    I_P = pose_map(lm[torch.from_numpy(pose_rows).to(lm.device)], data["image"].shape[-1])
    fake = transfer(G, data["image"][torch.from_numpy(sources).to(data["image"].device)], I_P, batch_size=batch_size)
    return {"image": fake, "expression": data["expression"].cpu()[torch.from_numpy(sources)],
            "view": torch.from_numpy(targets), "source": torch.from_numpy(sources),
            "pose_row": torch.from_numpy(pose_rows)}
