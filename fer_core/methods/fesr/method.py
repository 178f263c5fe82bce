"""FESR: joint facial expression synthesis and recognition with real data-guided back-propagation.

Paper: "Joint Deep Learning of Facial Expression Synthesis and Recognition" (FESR;
Sections III-IV, Tables I-II, Algorithm 1). Networks are in :mod:`fer_core.methods.fesr.nets`,
losses in :mod:`fer_core.methods.fesr.losses`.

Stage 1 (``ctx.step < P_pre``) pre-trains FESGAN: ``D_z`` (Eq. 24), ``D_img`` (Eq. 23) and
``G`` (Eq. 22) in turn. Stage 2 adds ``R``, trained on triplets ``{x, x^{p,r}, x^{p,f}}``
(Eq. 26), and lets ``R``'s loss on ``x^{p,f}`` train ``G`` as well (Eq. 25).

Triplets: ``x^{p,r}`` is another real image of ``x``'s class taken *from the same batch*
(a random same-class partner; samples whose class is alone in the batch are left out of
``L^r_dist``). A batch that carries a ``"pos_image"`` key (``(B, C, H, W)``, same class as
``"image"``) is used instead. ``x^{p,f} = G_dec([z, u(y)])`` with the ``z`` of that step.

Variants (Section IV-D and Fig. 4), built by :func:`fesr_variant`:

=============== ==========================================================================
name            what changes against FESR_JL
=============== ==========================================================================
FESR_JL         the proposed method: two stages, Eq. (25) joint loss, intra-class loss, RDBP
BASELINE        no FESGAN: ``R`` trained with ``L^r_cls,R`` on real images only; every step
                is an ``R`` step (give it ``steps = P_max - P_pre`` to match FESR's R updates)
FESR_SL         separate learning: ``L^f_cls,R`` does not train ``G``; FESGAN keeps training
                with Eq. (22) in stage 2 (our reading of "two separated CNNs")
FESR_OneSt      one stage: ``P_pre = 0``, joint training from the first step
FESR_JL-IL      no intra-class loss (``L_R = L_cls,R``)
FESR_JL-RDBP    intra-class loss minimised by plain SGD (gradient through ``R_ext(x)`` too)
FESR_Real       FESR_JL-IL with ``x^{p,f} = G_dec([g(x), u(y')])``, same identities as the batch
FG              FESGAN only (Eq. 22 for the whole run, no ``R``)
FG-CO           FG without content learning (no ``L_rec``, no ``L_id``)
FG-IP           FG without the identity preserving loss ``L_id``
FG-Dimg         FG without ``D_img`` (no adversarial image loss, no auxiliary classifier)
FG-Dimg_cls     FG without ``D_img``'s auxiliary classifier (``L^r_cls,D``, ``L^f_cls,D``)
FG-Dz           FG without ``D_z`` (no prior on ``g(x)``)
=============== ==========================================================================

Deviation from the paper: FESR_Real generates one image per input with a uniformly drawn
expression ``y'`` (over many steps: all expressions) instead of all K at once, so that it
feeds ``R`` as many synthetic images per step as FESR_JL-IL does. The WGAN-GP weight (10) is
not given in the paper; we use the WGAN-GP default.

``L_rec`` and ``L_id`` are mean absolute errors per pixel / feature (see
:func:`~fer_core.methods.fesr.losses.rec_loss`): the paper's ``E||.||_1`` does not say whether
the norm is summed or averaged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from fer_core.evaluate import eval_mode, module_device
from fer_core.io import load_checkpoint, save_checkpoint
from fer_core.methods.fesr.losses import (adv_img_loss_D, adv_img_loss_G, adv_z_loss_D, adv_z_loss_G, cls_loss,
                                          gradient_penalty, id_loss, intra_class_loss, objective_D_img, objective_G,
                                          objective_R, rec_loss, same_class_partner)
from fer_core.methods.fesr.nets import D_img, D_z, FESGANConfig, Generator, R, RConfig, label_code
from fer_core.nets.identity import IdentityCNN, IdentityExtractor
from fer_core.nets.lightcnn import LightCNN29v2
from fer_core.nets.modes import as_judge, frozen_statistics, frozen_weights
from fer_core.train import CHECKPOINT_FORMAT, CHECKPOINT_NAME, Method, StepContext, cosine_decay, make_adam

__all__ = ["FESRConfig", "FESR", "VARIANTS", "ABLATIONS", "FESGAN_VARIANTS", "TWO_STAGE", "fesr_variant",
           "recognition_terms", "continue_from_pretraining", "synthesize", "sample_new_identities"]


@dataclass(frozen=True)
class FESRConfig:
    """Training hyper-parameters and variant switches of FESR (Section IV-B, Algorithm 1).

    ``lambdas`` are λ1..λ6 of Eqs. (22)-(26); ``lr``/``betas`` Adam for every network
    (``lr_R``, when set, for ``R`` only: short CPU profiles may need a faster ``R``; ``R_updates``,
    when set, decays ``R``'s rate to 0 along a cosine over that many updates, see
    :func:`~fer_core.train.cosine_decay`);
    ``batch_size`` is what the paper used (pass it to ``fit``); ``P_pre`` the pre-training
    iterations. The switches below are set by :func:`fesr_variant`.
    """

    gan: FESGANConfig = field(default_factory=FESGANConfig)
    r: RConfig = field(default_factory=RConfig)
    variant: str = "FESR_JL"
    P_pre: int = 0
    lr: float = 1e-4
    lr_R: float | None = None
    betas: tuple[float, float] = (0.5, 0.999)
    lambdas: tuple[float, float, float, float, float, float] = (1.0, 10.0, 5.0, 1.0, 1.0, 0.001)
    lambda_gp: float = 10.0
    batch_size: int = 16
    R_updates: int | None = None
    synthesis: bool = True
    recognition: bool = True
    joint: bool = True
    intra_class: bool = True
    rdbp: bool = True
    aux_source: str = "z"
    use_D_img: bool = True
    use_D_img_cls: bool = True
    use_D_z: bool = True
    use_rec: bool = True
    use_id: bool = True

    def __post_init__(self) -> None:
        if not (self.synthesis or self.recognition):
            raise ValueError("a FESR variant needs FESGAN (synthesis=True), R (recognition=True) or both")
        if self.gan.num_classes != self.r.num_classes or self.gan.image_size != self.r.image_size \
                or self.gan.channels != self.r.channels:
            raise ValueError(f"FESGAN and R disagree on (K, S, c): {(self.gan.num_classes, self.gan.image_size, self.gan.channels)}"
                             f" vs {(self.r.num_classes, self.r.image_size, self.r.channels)}")
        if self.aux_source not in ("z", "g(x)"):
            raise ValueError(f"aux_source must be 'z' (Eq. 13) or 'g(x)' (FESR_Real), got {self.aux_source!r}")
        if self.P_pre < 0 or len(self.lambdas) != 6:
            raise ValueError(f"need P_pre >= 0 and six lambdas, got P_pre={self.P_pre}, lambdas={self.lambdas}")


ABLATIONS: dict[str, dict[str, Any]] = {
    "BASELINE": {"synthesis": False, "P_pre": 0},
    "FESR_SL": {"joint": False},
    "FESR_OneSt": {"P_pre": 0},
    "FESR_JL-IL": {"intra_class": False},
    "FESR_JL-RDBP": {"rdbp": False},
    "FESR_Real": {"aux_source": "g(x)", "intra_class": False},
    "FESR_JL": {},
}
FESGAN_VARIANTS: dict[str, dict[str, Any]] = {
    "FG": {},
    "FG-CO": {"use_rec": False, "use_id": False},
    "FG-IP": {"use_id": False},
    "FG-Dimg": {"use_D_img": False},
    "FG-Dimg_cls": {"use_D_img_cls": False},
    "FG-Dz": {"use_D_z": False},
}
VARIANTS: dict[str, dict[str, Any]] = {**ABLATIONS, **{k: {"recognition": False, **v} for k, v in FESGAN_VARIANTS.items()}}


def fesr_variant(name: str, **options: Any) -> FESRConfig:
    """The :class:`FESRConfig` of a named variant (see the module table); ``options`` set the
    other fields (``gan``, ``r``, ``P_pre``, ...). A variant's own switches win over ``options``."""
    if name not in VARIANTS:
        raise ValueError(f"unknown FESR variant {name!r}; choose one of {list(VARIANTS)}")
    return FESRConfig(**{**options, **VARIANTS[name], "variant": name})

#: Variants whose stage 1 is FG's pre-training (all but BASELINE and FESR_OneSt).
TWO_STAGE = ("FESR_SL", "FESR_JL-IL", "FESR_JL-RDBP", "FESR_Real", "FESR_JL")


class FESR(Method):
    """FESR (and its variants) on the shared loop: Algorithm 1 of the paper.

    Args:
        config: a :class:`FESRConfig`, usually from :func:`fesr_variant`.
        F_id: identity feature extractor for ``L_id`` (published LightCNN-29 v2 via
            :func:`~fer_core.nets.lightcnn.load_lightcnn29v2`, or a stand-in from
            :func:`~fer_core.nets.identity.train_identity_net`); required when the variant uses ``L_id``.
        R_stem: network whose front (LightCNN's Conv1-Pool3) becomes ``R``'s frozen front
            (usually the same as ``F_id``); ``None`` trains a fresh stem with ``R``.

    ``nets`` holds ``G`` (``G_enc`` + ``G_dec``), ``D_img``, ``D_z``, ``R`` and ``F_id`` as the variant
    needs; ``optimizers`` one Adam per trained network. ``identity_source`` and
    ``R.stem_source`` say which extractor and which stem were used.
    """

    def __init__(self, config: FESRConfig, *, F_id: LightCNN29v2 | IdentityCNN | None = None,
                 R_stem: LightCNN29v2 | IdentityCNN | None = None):
        self.config = c = config
        nets: dict[str, nn.Module] = {}
        if c.synthesis:
            nets["G"] = Generator(c.gan)
            if c.use_D_img:
                nets["D_img"] = D_img(c.gan, classifier=c.use_D_img_cls)
            if c.use_D_z:
                nets["D_z"] = D_z(c.gan)
            if c.use_id:
                if F_id is None:
                    raise ValueError(f"{c.variant} uses the identity preserving loss L_id (Eq. 12) and needs F_id: pass "
                                     "load_lightcnn29v2(path) or train_identity_net(train_set, steps=...)")
                nets["F_id"] = IdentityExtractor(F_id)
        if c.recognition:
            nets["R"] = R(c.r, stem_from=R_stem)
        self.nets = nn.ModuleDict(nets)
        self.identity_source = nets["F_id"].source if "F_id" in nets else "not used"
        self.optimizers = {k: make_adam([p for p in m.parameters() if p.requires_grad], betas=c.betas,
                                        lr=c.lr_R if k == "R" and c.lr_R is not None else c.lr)
                           for k, m in nets.items() if k != "F_id"}
        self.schedulers = {}
        if "R" in self.optimizers and c.R_updates:
            self.schedulers["R"] = cosine_decay(self.optimizers["R"], c.R_updates)

    def _R_updated(self) -> None:
        if "R" in self.schedulers:
            self.schedulers["R"].step()

    def extra_state(self) -> dict:
        return {"variant": self.config.variant}

    def load_extra_state(self, state: dict) -> None:
        saved = state.get("variant", self.config.variant)
        if saved != self.config.variant:
            raise ValueError(f"the checkpoint was written by variant {saved!r}, not {self.config.variant!r}; "
                             "use a separate run_dir per variant")

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        """One iteration of Algorithm 1: ``D_z`` (Eq. 24), ``D_img`` (Eq. 23), then in stage 2 ``R``
        (Eq. 26), then ``G`` (Eq. 22 in stage 1, Eq. 25 in stage 2 of the joint variants).

        Every face ``G_dec`` draws in the iteration (``x̂``, ``x^{rec}`` and, in stage 2, ``x^{p,f}``)
        comes from one batched decoder call: ``G`` changes only at the end of the iteration."""
        c, nets = self.config, self.nets
        x, y = batch["image"], batch["expression"]
        if not c.synthesis:
            with ctx.autocast():
                logits = nets["R"](x)
                loss = cls_loss(logits, y)
            ctx.update("R", loss)
            self._R_updated()
            return {"L_R": loss.detach(), "acc_R": (logits.argmax(1) == y).float().mean()}

        K, B = c.gan.num_classes, x.shape[0]
        G, Dimg, Dz = nets["G"], nets["D_img"] if c.use_D_img else None, nets["D_z"] if c.use_D_z else None
        net_R = nets["R"] if "R" in nets else None
        joint_stage = net_R is not None and ctx.step >= c.P_pre
        out: dict[str, torch.Tensor] = {"stage": torch.tensor(2.0 if joint_stage else 1.0)}
        z = torch.rand(B, c.gan.latent_dim, device=x.device) * 2 - 1
        y_target = (y + torch.randint(1, K, y.shape, device=y.device)) % K
        y_pf = (y if c.aux_source == "z" else torch.randint(0, K, y.shape, device=y.device)) if joint_stage else None
        with ctx.autocast():
            g = G.G_enc(x)
            codes, labels = [g, g], [y_target, y]
            if joint_stage:
                codes.append(z if c.aux_source == "z" else g)
                labels.append(y_pf)
            faces = G.G_dec(torch.cat(codes), label_code(torch.cat(labels), K)).split(B)
            x_hat, x_rec = faces[0], faces[1]
            x_pf = faces[2] if joint_stage else None
            if Dz is not None:
                out["L_D_z"] = adv_z_loss_D(Dz(z), Dz(g.detach()))
        if Dz is not None:
            ctx.update("D_z", out["L_D_z"])
        if Dimg is not None:
            with ctx.autocast():
                critic, cls_real = Dimg(torch.cat([x, x_hat.detach()]))
                critic_real, critic_fake = critic[:B], critic[B:]
            gp = gradient_penalty(Dimg.critic, x, x_hat)
            cls_r = cls_loss(cls_real[:B], y) if cls_real is not None else None
            out["L_D_img"] = objective_D_img(adv_img_loss_D(critic_real, critic_fake), gp, cls_r,
                                             lambda5=c.lambdas[4], lambda_gp=c.lambda_gp)
            out["gp"], out["W_dist"] = gp.detach(), (critic_real.mean() - critic_fake.mean()).detach()
            ctx.update("D_img", out["L_D_img"])
        if joint_stage:
            with ctx.autocast():
                terms_R = recognition_terms(net_R, x, y, x_pf.detach(), y_pf, c, pos=batch.get("pos_image"))
            ctx.update("R", terms_R["L_R"])
            self._R_updated()
            out.update({k: v.detach() for k, v in terms_R.items()})
        terms: dict[str, torch.Tensor] = {}
        with frozen_weights(Dimg, Dz, net_R):
            with ctx.autocast():
                if c.use_rec:
                    terms["rec"] = rec_loss(x, x_rec)
                if c.use_id:
                    terms["id"] = id_loss(nets["F_id"], x, x_rec)
                if Dimg is not None:
                    critic_g, cls_fake = Dimg(x_hat)
                    terms["adv_img"] = adv_img_loss_G(critic_g)
                    if cls_fake is not None:
                        terms["cls_D_fake"] = cls_loss(cls_fake, y_target)
                if Dz is not None:
                    terms["adv_z"] = adv_z_loss_G(Dz(g))
                if joint_stage and c.joint:
                    with as_judge(net_R):  # R scores G's faces; its statistics and dropout stay out of it
                        terms["cls_R_fake"] = cls_loss(net_R(x_pf), y_pf)
                out["L_G"] = objective_G(terms, c.lambdas)
            ctx.update("G", out["L_G"])
        out.update({f"G_{k}": v for k, v in terms.items()})
        return {k: v.detach() for k, v in out.items()}


def recognition_terms(net_R: R, x: torch.Tensor, y: torch.Tensor, x_pf: torch.Tensor, y_pf: torch.Tensor,
                      config: FESRConfig, *, pos: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The terms of ``L_R`` (Eq. 26) on the triplet ``{x, x^{p,r}, x^{p,f}}``.

    Real faces (``x`` and, when given, the real positives ``pos``) and synthetic faces ``x^{p,f}``
    pass through ``R_ext`` separately, the synthetic pass with frozen BatchNorm statistics: batch
    statistics of the real faces never shape the synthetic features (and vice versa), and the
    statistics ``R`` uses at test time come from real faces only, as in BASELINE. So with RDBP
    the gradient of ``L^rf_dist`` reaches ``R_ext``'s weights only through ``R_ext(x^{p,f})``
    (Eq. 18). ``x^{p,r}`` is ``pos`` or, without it, a same-class partner from the batch.

    Returns:
        ``L_R`` and its parts: ``L_cls_R_real`` (Eq. 20), ``L_cls_R_fake`` (Eq. 21), ``L_r_dist``,
        ``L_rf_dist`` (Eqs. 15-16, with the intra-class loss), ``acc_R`` (on the real faces).
    """
    n = x.shape[0]
    real = net_R.R_ext(x if pos is None or not config.intra_class else torch.cat([x, pos]))
    f_x = real[:n]
    with frozen_statistics(net_R):
        f_pf = net_R.R_ext(x_pf)
    logits_r, logits_f = net_R.R_cls(f_x), net_R.R_cls(f_pf)
    cls_r, cls_f = cls_loss(logits_r, y), cls_loss(logits_f, y_pf)
    out = {"L_cls_R_real": cls_r, "L_cls_R_fake": cls_f, "acc_R": (logits_r.argmax(1) == y).float().mean()}
    intra = None
    if config.intra_class:
        if pos is not None:
            f_pr, valid = real[n:], None
        else:
            idx, valid = same_class_partner(y)
            f_pr = f_x[idx]
        parts = intra_class_loss(f_x.float(), f_pr.float(), f_pf.float(), rdbp=config.rdbp, mask=valid)
        intra = parts.total
        out.update(L_r_dist=parts.r_dist, L_rf_dist=parts.rf_dist)
    out["L_R"] = objective_R(intra, cls_r, cls_f, lambda6=config.lambdas[5])
    return out


_SAME_STAGE_ONE = {"FG", "FESR_JL", "FESR_SL", "FESR_JL-IL", "FESR_JL-RDBP", "FESR_Real"}


def continue_from_pretraining(method: FESR, pretrained: str | Path, run_dir: str | Path) -> int:
    """Start ``method``'s run in ``run_dir`` from another run's stage-1 checkpoint.

    Stage 1 is the same for FG and the FESR variants that pre-train (all but BASELINE and
    FESR_OneSt), so one FG run of ``P_pre`` steps can serve all of them: this writes
    ``run_dir/checkpoint.pt`` with ``G``, ``D_img``, ``D_z`` (weights and Adam states) and the
    RNG state of ``pretrained`` (a run folder or checkpoint file) and ``method``'s own ``R``
    and ``F_id``; :func:`~fer_core.train.fit` then resumes from it. The result equals training
    ``method`` from scratch when both were built under the same seed and the global RNG was
    seeded the same way right before each ``fit`` (building ``R`` consumes random numbers).
    Returns the step it starts from.

    Raises:
        ValueError: the checkpoint is past ``P_pre``, comes from a variant with another stage 1
            (e.g. FG-IP), or ``run_dir`` already has a checkpoint.
    """
    src = Path(pretrained)
    src = src / CHECKPOINT_NAME if src.is_dir() else src
    dst = Path(run_dir) / CHECKPOINT_NAME
    if dst.exists():
        raise ValueError(f"{dst} exists already; fit() will resume from it (delete it to start over)")
    state = load_checkpoint(src)
    step, c = int(state["step"]), method.config
    source_variant = state.get("extra", {}).get("variant", "FG")
    if source_variant not in _SAME_STAGE_ONE:
        raise ValueError(f"{src} was written by {source_variant!r}, whose stage 1 differs from FESR's; "
                         f"pre-train with one of {sorted(_SAME_STAGE_ONE)}")
    if not c.synthesis or step > c.P_pre:
        raise ValueError(f"{src} is at step {step}; {c.variant} (P_pre={c.P_pre}) can only start from a "
                         "pre-training checkpoint at or before P_pre")
    nets = method.nets.state_dict()
    shared = [k for k in ("G", "D_img", "D_z") if k in method.nets]
    nets.update({k: v for k, v in state["nets"].items() if k.split(".", 1)[0] in shared})
    missing = [k for k in nets if k.split(".", 1)[0] in shared and k not in state["nets"]]
    if missing:
        raise ValueError(f"{src} lacks {missing[:3]}...; was it written by a FESGAN of the same configuration?")
    optimizers = {k: (state["optimizers"][k] if k in shared else o.state_dict()) for k, o in method.optimizers.items()}
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{src} is not a fer-book training checkpoint (format {state.get('format')!r})")
    # every other field (RNG states, world size) carries over unchanged
    save_checkpoint({**state, "nets": nets, "optimizers": optimizers, "schedulers": {k: v.state_dict() for k, v in method.schedulers.items()},
                     "extra": method.extra_state()}, dst)
    return step


def synthesize(G: Generator, x: torch.Tensor, target_expression: int | torch.Tensor, *,
               intensity: float | torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """``x̂ = G_dec([G_enc(x), u(y')])`` for figures (Eq. 3).

    Args:
        x: ``(B, c, S, S)`` in [-1, 1].
        target_expression: an int or ``(B,)`` labels ``y'``.
        intensity: fixed ``v`` in [0, 1] (see :func:`label_code`); ``None`` draws ``v ~ U(0, 1)``.

    Returns:
        ``(B, c, S, S)`` in [-1, 1], on CPU.
    """
    dev = module_device(G)
    y = torch.as_tensor(target_expression, dtype=torch.long).expand(x.shape[0]).to(dev)
    with eval_mode(G):
        u = label_code(y, G.config.num_classes, intensity=intensity, generator=generator)
        return G(x.to(dev), u).cpu()


def sample_new_identities(G_dec: nn.Module, n: int, expressions: Sequence[int], *, intensity: float = 1.0,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """Faces of ``n`` new identities ``z ~ U(-1, 1)^n`` (Eq. 13, Fig. 7), each in every expression.

    Returns:
        ``(n, len(expressions), c, S, S)`` in [-1, 1], on CPU.
    """
    dev = module_device(G_dec)
    z = torch.rand(n, G_dec.latent_dim, generator=generator) * 2 - 1
    E = len(expressions)
    y = torch.as_tensor(list(expressions), dtype=torch.long).repeat(n)
    with eval_mode(G_dec):
        u = label_code(y.to(dev), G_dec.num_classes, intensity=intensity)
        imgs = G_dec(z.repeat_interleave(E, dim=0).to(dev), u).cpu()
    return imgs.view(n, E, *imgs.shape[1:])
