"""Comp-GAN and its classifier on the shared loop: training tuples, F_cls, the two generators.

Paper: Comp-GAN / F2ED (Sec. 4.2-4.3, Sec. 5.2.1 "Implementation details").

- :class:`Quadruples` serves Algorithm 1's inputs from a split's training faces: a source
  ``(it, ps, es)``, the three real faces of ``it`` that Eqs. (4)-(5) compare with, and the four
  references of another identity ``ir``; only tuples whose faces are all in the training set.
- :class:`FclsTraining` trains F_cls (LightCNN-29 v2; expression, pose and identity heads) by
  cross-entropy with SGD, momentum 0.9, the rate x0.457 every ``lr_step`` updates; with
  ``heads=("expression",)`` it is the recogniser "L." of Tables 4-7.
- :class:`CompGAN` trains G(Exp), G(Pose) and D: every step runs Algorithm 1, updates D
  (Eq. 11 plus AttGAN's attribute heads on real faces), then each generator with its own
  weighted objective, G(Pose) with Eq. (12)'s λ and G(Exp) with Eq. (13)'s μ.

Deviation from the paper: it trains Comp-GAN "combined with LightCNN-29v2 as an end-to-end
framework"; here F_cls is trained first on the split's real training faces and stays fixed while
the generators train (a frozen judge of their attributes inside the step, as its loss terms use
it). The tuples need the real faces of Eqs. (4)-(9), so a source whose identity lacks them in the
training set is no source.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from fer_core import distributed
from fer_core.data.memory import TensorFaces
from fer_core.methods.compgan.algorithm import REFERENCES, TAGS, algorithm1
from fer_core.methods.compgan.losses import (GAMMA, LAMBDA, MU, TERMS, L_adv_D, L_adv_G, L_con, L_exp, L_G, L_id,
                                             L_loop, L_pose, L_recon)
from fer_core.methods.compgan.nets import D, F_cls, G_Exp, G_Pose, CompGANConfig
from fer_core.train import Method, StepContext, make_adam, sgd_with_steps

__all__ = ["codes_of", "Quadruples", "FclsTraining", "CompGAN", "update_separately"]

#: Row columns of a tuple of :class:`Quadruples`.
TUPLE_COLUMNS = ("source", "gt_pt_es", "gt_ps_et", "gt_pt_et", "r_pt_es", "r_ps_et", "r_pt_et", "r_ps_es")


def codes_of(data: Mapping[str, torch.Tensor], what: str) -> np.ndarray:
    """``(N, 3)`` identity, expression and view codes of a split's faces."""
    for key in ("identity", "expression", "view"):
        if key not in data:
            raise ValueError(f"{what} needs faces labelled with identity, expression and view; the data has no "
                             f"{key!r} (F2ED-style data: the f2ed_like synthetic world or the F2ED folders adapter)")
    codes = np.stack([data[k].cpu().numpy() for k in ("identity", "expression", "view")], 1).astype(np.int64)
    if (codes[:, 2] < 0).any():
        raise ValueError(f"{what} needs named views (view >= 0); these faces have none")
    return codes


class Quadruples(Dataset):
    """Algorithm 1's training inputs over a split's faces.

    Items: ``image`` the source ``(it, ps, es)``; ``gt_pt_es``, ``gt_ps_et``, ``gt_pt_et`` real faces
    of ``it``; ``r_pt_es``, ``r_ps_et``, ``r_pt_et``, ``r_ps_es`` real faces of another identity ``ir``;
    ``it``, ``ps``, ``pt``, ``es``, ``et`` the ``(B,)`` codes.

    Args:
        faces: the split's training faces (``data`` with ``image``, ``identity``, ``expression``, ``view``).
        per_source: tuples drawn per source face.
        seed: the draw.
    """

    is_device_resident = True

    def __init__(self, faces: Any, *, per_source: int = 4, seed: int = 0):
        data = faces.data
        codes = codes_of(data, "Comp-GAN's training tuples")
        n_id, n_e, n_v = (int(codes[:, j].max()) + 1 for j in range(3))
        where = -np.ones((n_id, n_e, n_v), np.int64)
        where[codes[:, 0], codes[:, 1], codes[:, 2]] = np.arange(len(codes))
        has = where >= 0
        rng = np.random.default_rng(seed)
        rows = []
        for s, (i, e, p) in enumerate(codes):
            # (et, pt) with (i, e, pt), (i, et, p) and (i, et, pt) in the training set
            ok = has[i, :, p][:, None] & has[i, e, :][None, :] & has[i]
            ok[e, :] = False
            ok[:, p] = False
            cand = np.argwhere(ok)
            if not len(cand):
                continue
            for _ in range(per_source):
                et, pt = cand[rng.integers(len(cand))]
                refs = has[:, e, pt] & has[:, et, p] & has[:, et, pt] & has[:, e, p]
                refs[i] = False
                if not refs.any():
                    continue
                r = rng.choice(np.flatnonzero(refs))
                rows.append((s, where[i, e, pt], where[i, et, p], where[i, et, pt], where[r, e, pt], where[r, et, p],
                             where[r, et, pt], where[r, e, p], i, p, pt, e, et))
        if not rows:
            raise ValueError("Comp-GAN found no training tuple: it needs identities shown with two expressions in two "
                             "views each, and another identity with the same four faces (F2ED-style data)")
        device = data["image"].device
        self.rows = torch.as_tensor(np.asarray(rows, np.int64), device=device)
        self.images = data["image"]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        r = self.rows[torch.as_tensor(indices, dtype=torch.long, device=self.rows.device)]
        out = {("image" if k == "source" else k): self.images[r[:, j]] for j, k in enumerate(TUPLE_COLUMNS)}
        out.update({k: r[:, 8 + j] for j, k in enumerate(("it", "ps", "pt", "es", "et"))})
        return out

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}

    collate = staticmethod(TensorFaces.collate)


def refs_of(batch: Mapping[str, torch.Tensor]) -> dict[tuple[str, str], torch.Tensor]:
    """The four reference faces of a :class:`Quadruples` batch, keyed as Algorithm 1 takes them."""
    return {(p, e): batch[f"r_{p}_{e}"] for p, e in REFERENCES}


def truths_of(batch: Mapping[str, torch.Tensor]) -> dict[tuple[str, str], torch.Tensor]:
    """The real faces of identity ``it`` that Eqs. (4)-(9) compare with (``("ps", "es")`` is the source)."""
    return {("ps", "es"): batch["image"], ("pt", "es"): batch["gt_pt_es"], ("ps", "et"): batch["gt_ps_et"],
            ("pt", "et"): batch["gt_pt_et"]}


class FclsTraining(Method):
    """F_cls by cross-entropy on ``heads`` with SGD (Sec. 5.1.1): momentum 0.9, the rate x ``gamma`` every
    ``lr_step`` updates (LightCNN's reference schedule: x0.457).

    Args:
        net: an :class:`~fer_core.methods.compgan.nets.F_cls`.
        heads: which of ``expression``, ``pose``, ``identity`` train (the batch keys ``expression``,
            ``view`` and ``identity``); the recogniser "L." trains ``("expression",)``.
        weights: per-head weights of the summed cross-entropies (default 1 each).
        probe_heads: heads trained on the detached feature (their loss shapes the head, not the backbone).
        lr, lr_step, gamma, momentum, weight_decay: SGD's settings.
    """

    BATCH_KEYS = {"expression": "expression", "pose": "view", "identity": "identity"}

    def __init__(self, net: F_cls, *, heads: Sequence[str] = F_cls.HEADS, weights: Mapping[str, float] | None = None,
                 probe_heads: Sequence[str] = (), lr: float = 0.01, lr_step: int = 10, gamma: float = 0.457, momentum: float = 0.9,
                 weight_decay: float = 0.0):
        unknown = set(heads) - set(F_cls.HEADS)
        if unknown or not heads:
            raise ValueError(f"heads must be a non-empty subset of {F_cls.HEADS}, got {tuple(heads)}")
        if lr <= 0 or lr_step < 1 or not 0 < gamma <= 1:
            raise ValueError(f"F_cls needs lr > 0, lr_step >= 1 and gamma in (0, 1]; got lr={lr}, lr_step={lr_step}, "
                             f"gamma={gamma}")
        self.heads, self.probe_heads = tuple(heads), tuple(probe_heads)
        if set(self.probe_heads) - set(self.heads):
            raise ValueError(f"probe_heads {self.probe_heads} must be among heads {self.heads}")
        self.weights = {h: float((weights or {}).get(h, 1.0)) for h in self.heads}
        if min(self.weights.values()) < 0:
            raise ValueError(f"head weights must be >= 0, got {self.weights}")
        self.nets = nn.ModuleDict({"F_cls": net})
        sgd, schedule = sgd_with_steps(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay,
                                       step=lr_step, gamma=gamma)
        self.optimizers, self.schedulers = {"F_cls": sgd}, {"F_cls": schedule}

    @property
    def net(self) -> F_cls:
        return self.nets["F_cls"]

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        with ctx.autocast():
            inputs = self.net.head_inputs(self.net.feature_maps(batch["image"]), detach=self.probe_heads)
            out = {h: self.net.heads[h](inputs[h]) for h in self.heads}
        losses = {h: F.cross_entropy(out[h].float(), batch[self.BATCH_KEYS[h]]) for h in self.heads}
        loss = sum(self.weights[h] * v for h, v in losses.items())
        ctx.update("F_cls", loss)
        self.schedulers["F_cls"].step()
        logs = {f"L_{h}": v.detach() for h, v in losses.items()}
        logs["acc"] = (out["expression"].argmax(1) == batch["expression"]).float().mean() \
            if "expression" in self.heads else torch.tensor(float("nan"))
        return logs


def update_separately(ctx: StepContext, parts: Sequence[tuple[str, torch.Tensor, nn.Module]],
                      optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
    """Step each ``(name, loss, module)`` optimiser with the gradient of its own loss on its own module's
    weights, all taken from one graph before any weight changes (Eqs. 12-13 weight the same terms
    differently for the two generators)."""
    grads = []
    for i, (name, loss, module) in enumerate(parts):
        params = [p for p in module.parameters() if p.requires_grad]
        g = torch.autograd.grad(loss, params, retain_graph=i < len(parts) - 1, allow_unused=True)
        grads.append((name, params, g))
    for name, params, g in grads:
        opt = optimizers[name]
        opt.zero_grad(set_to_none=True)
        for p, gi in zip(params, g):
            p.grad = torch.zeros_like(p) if gi is None else gi
        if ctx.world_size > 1:
            distributed.all_reduce_mean_grads(params, ctx.world_size)
        if ctx.clip_grad is not None:
            ctx.grad_norms[name] = torch.nn.utils.clip_grad_norm_(params, ctx.clip_grad)
        opt.step()


class CompGAN(Method):
    """G(Exp), G(Pose) and D trained by Eqs. (1)-(13) around a fixed, trained F_cls.

    Args:
        config: the editors' and D's :class:`~fer_core.methods.compgan.nets.CompGANConfig`.
        classifier: the trained F_cls (its weights get no gradient step here).
        lam, mu: the weights of Eqs. (12) and (13) (Sec. 5.2.1's values by default).
        gamma: γ1, γ2 of Eqs. (6)-(7).
        drop: loss terms left out (Fig. 16's ablations: ``("loop",)`` is "w.o. loop loss").
        lr, betas: Adam's (the paper: 2e-4; β ours, the usual (0.5, 0.999)).
    """

    def __init__(self, config: CompGANConfig, classifier: F_cls, *, lam: Mapping[str, float] = LAMBDA,
                 mu: Mapping[str, float] = MU, gamma: tuple[float, float] = GAMMA, drop: Sequence[str] = (),
                 lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999)):
        unknown = set(drop) - set(TERMS)
        if unknown:
            raise ValueError(f"drop names unknown loss terms {sorted(unknown)}; the terms are {list(TERMS)}")
        self.config, self.lam, self.mu, self.gamma, self.drop = config, dict(lam), dict(mu), tuple(gamma), tuple(drop)
        classifier.requires_grad_(False)
        self.nets = nn.ModuleDict({"G_Exp": G_Exp(config), "G_Pose": G_Pose(config), "D": D(config),
                                   "F_cls": classifier})
        self.optimizers = {k: make_adam(self.nets[k].parameters(), lr=lr, betas=betas) for k in ("G_Exp", "G_Pose", "D")}
        self.schedulers = {}

    def labels(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        return {k: batch[k] for k in ("ps", "pt", "es", "et")} if self.config.label_maps else None

    def generate(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Algorithm 1 on a :class:`Quadruples` batch: tag -> ``(B, C, S, S)``."""
        return algorithm1(self.nets["G_Pose"], self.nets["G_Exp"], batch["image"], refs_of(batch), self.labels(batch))

    def update_D(self, batch: Mapping[str, torch.Tensor], fakes: Mapping[str, torch.Tensor],
                 ctx: StepContext) -> torch.Tensor:
        """D's step: Eq. (11) on the sources against the eight fakes, plus its attribute heads on real faces."""
        x = batch["image"]
        with ctx.autocast():
            out = self.nets["D"](torch.cat([x, *(fakes[t].detach() for t in TAGS)]))
        adv = out["adv"].float()
        B = len(x)
        loss = L_adv_D(adv[:B], adv[B:]) + F.cross_entropy(out["expression"][:B].float(), batch["es"]) \
            + F.cross_entropy(out["pose"][:B].float(), batch["ps"])
        ctx.update("D", loss)
        return loss

    def terms(self, batch: Mapping[str, torch.Tensor], fakes: Mapping[str, torch.Tensor],
              ctx: StepContext) -> dict[str, torch.Tensor]:
        """The terms of Eqs. (12)-(13) that are not dropped."""
        Fc = self.nets["F_cls"].eval()
        B = len(batch["image"])
        truths = truths_of(batch)
        with ctx.autocast():
            logits, maps = Fc.outputs(torch.cat([fakes[t] for t in TAGS]))
            with torch.no_grad():
                _, tmaps = Fc.outputs(torch.cat(list(truths.values())))
            d_fake = self.nets["D"](torch.cat([fakes[t] for t in TAGS]))["adv"]
        split = lambda z: dict(zip(TAGS, z.split(B)))  # noqa: E731
        fake_maps = {t: [m[j * B:(j + 1) * B] for m in maps] for j, t in enumerate(TAGS)}
        truth_maps = {k: [m[j * B:(j + 1) * B] for m in tmaps] for j, k in enumerate(truths)}
        out: dict[str, torch.Tensor] = {}
        if "exp" not in self.drop:
            out["exp"] = L_exp(split(logits["expression"]), batch["es"], batch["et"])
        if "pose" not in self.drop:
            out["pose"] = L_pose(split(logits["pose"]), batch["ps"], batch["pt"])
        if "id" not in self.drop:
            out["id"] = L_id(split(logits["identity"]), batch["it"])
        if "con" not in self.drop:
            out["con"] = L_con(fakes, truths, fake_maps, truth_maps, gamma=self.gamma)
        if "recon" not in self.drop:
            out["recon"] = L_recon(fakes, truths, fake_maps, truth_maps, gamma=self.gamma)
        if "adv" not in self.drop:
            out["adv"] = L_adv_G(d_fake.float())
        if "loop" not in self.drop:
            out["loop"] = L_loop(fakes)
        return out

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        with ctx.autocast():
            fakes = self.generate(batch)
        loss_D = self.update_D(batch, fakes, ctx)
        terms = self.terms(batch, fakes, ctx)
        L_P, L_E = L_G(terms, self.lam), L_G(terms, self.mu)
        update_separately(ctx, [("G_Pose", L_P, self.nets["G_Pose"]), ("G_Exp", L_E, self.nets["G_Exp"])],
                          self.optimizers)
        logs = {f"L_{k}": v.detach() for k, v in terms.items()}
        logs.update(L_D=loss_D.detach(), L_G_Pose=L_P.detach(), L_G_Exp=L_E.detach())
        return logs
