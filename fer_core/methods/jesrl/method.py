"""JESRL's training step (Sec. III, Eq. 12) and the variants of Table VII, on the shared loop.

Paper: "Joint Expression Synthesis and Representation Learning for Facial Expression
Recognition" (JESRL). Networks: :mod:`fer_core.methods.jesrl.nets`; switch unit:
:mod:`fer_core.methods.jesrl.switch`; losses: :mod:`fer_core.methods.jesrl.losses`.

One iteration (every update on the same pairs):

1. draw ``B`` unpaired pairs ``(I_a, I_b)``: ``I_a`` of expression ``i``, ``I_b`` of any other
   expression ``j`` (:class:`PairSampler`: the paper cycles ``i`` over the expressions, "go over all
   expressions repeatedly"; the authors' code draws ``i`` uniformly);
2. ``G_enc`` once on ``[I_a, I_b]`` (and on ``C``'s real faces when ``L_C`` trains ``G_enc``), the
   switch unit (Eqs. 3, 6), and **one** ``G_dec`` call for the transfers ``I_c``, ``I_d``, the
   reconstructions ``I'_a``, ``I'_b`` and, with ``L_inter``, the interpolated ``I_c^p``, ``I_d^p``;
3. ``D1``, ``D2`` (Eqs. 5, 7): real ``(I_a, i)``, ``(I_b, j)`` against ``(I_c, j)``, ``(I_d, i)``, ...;
4. ``G`` (Eq. 12) and ``C`` (Eq. 8): ``C`` learns from a batch of real faces plus ``I_c``, ``I_d``
   (labels ``j``, ``i``); end to end (the paper) ``L_C`` is part of ``G``'s objective and reaches
   ``G_enc`` through ``C``'s input ``G_enc(I)`` (Sec. IV-E: "with the representation as the bridge");
   one backward then steps both optimisers.

Generated faces enter ``C`` as data (detached): the bridge between synthesis and recognition is
the representation, so a variant whose ``C`` does not read ``G_enc(I)`` trains its GAN exactly
as a GAN trained alone (tested), which is what ``TwoStage`` continues from.

Variants (:data:`VARIANTS`, Table VII and the authors' code):

================ ==================================================================================
Ours             the method: L_inter, C reads G_enc(I), C learns from generated faces, end to end
No_InterL        without L_inter (Eq. 7)
No_ExpR          C without G_enc(I) (VGG features only)
No_InterL_ExpR   both of the above
No_SynFI         no GAN: C (VGG-19 only) on the real faces; the chapter's plain recogniser
TwoStage         C trained after the GAN (which a No_ExpR run trains), reading a frozen G_enc
Official         the authors' code: ReLU decoder with U-Net skips, 2·tanh residual with clamp, C with a
                 frozen encoder taking turns with the GAN, uniform pair draws, TV on detached faces (so
                 it trains nothing), pixelwise L_p
================ ==================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import torch
from torch import nn

from fer_core.evaluate import eval_mode, module_device
from fer_core.methods.jesrl import losses as L
from fer_core.methods.jesrl.nets import C, ClassifierConfig, Generator, MultiScaleD, PerceptualNet, SwitchGANConfig
from fer_core.methods.jesrl.switch import interpolate, switch, switch_code
from fer_core.nets.modes import frozen_weights
from fer_core.train import Method, StepContext, make_adam

__all__ = ["JESRLConfig", "JESRL", "PairSampler", "VARIANTS", "jesrl_variant", "transfer", "interpolation_frames"]


@dataclass(frozen=True)
class JESRLConfig:
    """Training hyper-parameters and variant switches (Sec. IV-B; :func:`jesrl_variant` sets the switches).

    ``lambdas`` are λ1..λ4 of Eq. (12); ``p`` the interpolation weight of Eq. (6); ``lr``/``betas``/
    ``weight_decay`` Adam for ``G``, ``D1``, ``D2``; ``lr_C``/``optimizer_C``/``momentum`` ``C``'s
    optimiser (the paper: SGD 1e-3, momentum 0.9); ``pairs`` the pairs per iteration (global).
    Switches: ``use_inter`` (L_inter), ``use_expr`` (``C`` reads ``G_enc(I)``), ``synthesis`` (a GAN
    at all), ``use_synthetic`` (``C`` learns from generated faces), ``end_to_end`` (``L_C`` trains
    ``G_enc``), ``train_gan`` (``False``: ``G`` is frozen, only ``C`` learns: TwoStage's second stage),
    ``alternate`` (> 0: GAN and ``C`` take turns in blocks of that many iterations), ``pairing``
    (``"cycle"``/``"uniform"``), ``tv_trains`` (the TV term back-propagates), ``pixelwise_lp``.
    """

    gan: SwitchGANConfig = field(default_factory=SwitchGANConfig)
    clf: ClassifierConfig = field(default_factory=ClassifierConfig)
    variant: str = "Ours"
    lambdas: tuple[float, float, float, float] = L.LAMBDAS
    p: float = 0.5
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    lr_C: float = 1e-3
    optimizer_C: str = "sgd"
    momentum: float = 0.9
    pairs: int = 10
    use_inter: bool = True
    use_expr: bool = True
    synthesis: bool = True
    use_synthetic: bool = True
    end_to_end: bool = True
    train_gan: bool = True
    alternate: int = 0
    pairing: str = "cycle"
    tv_trains: bool = True
    pixelwise_lp: bool = False

    def __post_init__(self) -> None:
        if (self.gan.num_classes, self.gan.image_size, self.gan.channels) != (
                self.clf.num_classes, self.clf.image_size, self.clf.channels):
            raise ValueError("the GAN and C disagree on (n, S, c): "
                             f"{(self.gan.num_classes, self.gan.image_size, self.gan.channels)} vs "
                             f"{(self.clf.num_classes, self.clf.image_size, self.clf.channels)}")
        if self.pairing not in ("cycle", "uniform"):
            raise ValueError(f"pairing must be 'cycle' (the paper) or 'uniform' (the authors' code), got {self.pairing!r}")
        if self.optimizer_C not in ("sgd", "adam"):
            raise ValueError(f"optimizer_C must be 'sgd' (the paper) or 'adam', got {self.optimizer_C!r}")
        if not 0 <= self.p <= 1 or self.pairs < 1 or self.alternate < 0 or len(self.lambdas) != 4:
            raise ValueError(f"need 0 <= p <= 1, pairs >= 1, alternate >= 0 and four lambdas; got p={self.p}, "
                             f"pairs={self.pairs}, alternate={self.alternate}, lambdas={self.lambdas}")
        if not self.synthesis and (self.use_expr or self.use_synthetic or self.use_inter):
            raise ValueError("a variant without the GAN (synthesis=False) has no G_enc(I), generated faces or L_inter")

    @property
    def joint(self) -> bool:
        """Whether ``L_C`` is part of ``G``'s objective (one backward steps ``G`` and ``C``)."""
        return self.synthesis and self.train_gan and self.use_expr and self.end_to_end and self.alternate == 0


_AUTHORS_CODE: dict[str, Any] = {"end_to_end": False, "pairing": "uniform", "tv_trains": False, "pixelwise_lp": True}
VARIANTS: dict[str, dict[str, Any]] = {
    "Ours": {},
    "No_InterL": {"use_inter": False},
    "No_ExpR": {"use_expr": False},
    "No_InterL_ExpR": {"use_inter": False, "use_expr": False},
    "No_SynFI": {"synthesis": False, "use_expr": False, "use_synthetic": False, "use_inter": False},
    "TwoStage": {"end_to_end": False, "train_gan": False},
    "Official": _AUTHORS_CODE,
}


def jesrl_variant(name: str, *, alternate: int = 1, **options: Any) -> JESRLConfig:
    """The :class:`JESRLConfig` of a named variant (see the module table); ``options`` set the other
    fields. ``alternate`` is the block length (iterations) of the authors' code's turns (Official only)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown JESRL variant {name!r}; choose one of {list(VARIANTS)}")
    config = JESRLConfig(**{**options, **VARIANTS[name], "variant": name})
    if name == "Official":
        config = replace(config, gan=config.gan.official(), alternate=int(alternate))
    return config


class PairSampler:
    """Unpaired training pairs: ``I_a`` of expression ``i``, ``I_b`` of any other expression.

    ``scheme="cycle"`` (the paper): iteration ``t`` trains expression ``i = t mod n``;
    ``"uniform"`` (the authors' code): ``i`` is drawn uniformly. Draws are a pure function of
    ``(seed, t)``, so a resumed run sees the same pairs. Rows come from ``labels`` ``(N,)``.
    """

    def __init__(self, labels: torch.Tensor, n: int, *, scheme: str = "cycle", seed: int = 0):
        labels = labels.cpu().long()
        self.n, self.scheme, self.seed = n, scheme, int(seed)
        self.rows = [torch.nonzero(labels == k).flatten() for k in range(n)]
        self.all = torch.arange(len(labels))
        self.labels = labels
        missing = [k for k in range(n) if len(self.rows[k]) == 0]
        if missing:
            raise ValueError(f"the training set has no face of expression(s) {missing}; every block of R needs "
                             "its expression (check the class list and the split)")

    def draw(self, step: int, B: int) -> tuple[int, torch.Tensor, torch.Tensor]:
        """``(i, rows_a (B,), rows_b (B,))`` for iteration ``step``."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + int(step))
        i = int(step) % self.n if self.scheme == "cycle" else int(torch.randint(self.n, (1,), generator=g))
        own = self.rows[i]
        a = own[torch.randint(len(own), (B,), generator=g)]
        others = self.all[self.labels != i]
        b = others[torch.randint(len(others), (B,), generator=g)]
        return i, a, b


class JESRL(Method):
    """JESRL (and its variants) on the shared loop.

    Args:
        config: a :class:`JESRLConfig`, usually from :func:`jesrl_variant`.
        train: the fold's training faces (``{"image": (N, c, S, S), "expression": (N,)}``, e.g. a
            :class:`~fer_core.data.memory.MemoryCachedDataset`'s ``data``): the pool pairs are drawn from.
        perceptual: ``F`` of Eq. (11) (a :class:`~fer_core.methods.jesrl.nets.PerceptualNet`); required
            when ``λ2 > 0`` and the variant trains its GAN.
        seed: the pair draws' seed.

    ``nets``: ``G``, ``D`` (``D1`` and ``D2``), ``C`` and ``F`` as the variant needs; ``optimizers``:
    ``G``, ``D`` (Adam) and ``C``. The loop's batch is ``C``'s batch of real faces.
    """

    def __init__(self, config: JESRLConfig, *, train: Mapping[str, torch.Tensor],
                 perceptual: PerceptualNet | None = None, seed: int = 0):
        self.config = c = config
        nets: dict[str, nn.Module] = {}
        if c.synthesis:
            nets["G"] = Generator(c.gan)
            if c.train_gan:
                nets["D"] = MultiScaleD(c.gan)
                if c.lambdas[1] > 0:
                    if perceptual is None:
                        raise ValueError(f"{c.variant} trains its GAN with L_per (lambda_2 = {c.lambdas[1]}): pass "
                                         "perceptual=PerceptualNet(...), or set lambda_2 = 0")
                    nets["F"] = perceptual
        nets["C"] = C(c.clf, expr_channels=c.gan.rep_channels if c.use_expr else None)
        self.nets = nn.ModuleDict(nets)
        self.optimizers = {k: make_adam(nets[k].parameters(), lr=c.lr, betas=c.betas, weight_decay=c.weight_decay)
                           for k in ("G", "D") if k in nets and c.train_gan}
        self.optimizers["C"] = (make_adam(nets["C"].parameters(), lr=c.lr_C) if c.optimizer_C == "adam" else
                                torch.optim.SGD(nets["C"].parameters(), lr=c.lr_C, momentum=c.momentum))
        self.schedulers = {}
        self.pool = {"image": train["image"], "expression": train["expression"]}
        self.sampler = PairSampler(train["expression"], c.gan.num_classes, scheme=c.pairing, seed=seed) \
            if c.synthesis else None
        self.perceptual_source = perceptual.source if perceptual is not None else "not used"

    def extra_state(self) -> dict:
        return {"variant": self.config.variant}

    def load_extra_state(self, state: dict) -> None:
        saved = state.get("variant", self.config.variant)
        if saved != self.config.variant and not (self.config.variant == "TwoStage" and saved == "No_ExpR"):
            raise ValueError(f"the checkpoint was written by variant {saved!r}, not {self.config.variant!r}; "
                             "use a separate run_dir per variant")

    # -- one iteration ---------------------------------------------------------------------------
    def _pairs(self, ctx: StepContext) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(I_a, I_b, i, j)`` of this rank: its slice of the iteration's global pairs."""
        B = self.config.pairs
        i, a, b = self.sampler.draw(ctx.step, B)
        per = B // ctx.world_size
        a, b = a[ctx.rank * per:(ctx.rank + 1) * per], b[ctx.rank * per:(ctx.rank + 1) * per]
        dev = ctx.device
        img, lab = self.pool["image"], self.pool["expression"]
        I_a = img[a.to(img.device)].to(dev).contiguous(memory_format=torch.channels_last)
        I_b = img[b.to(img.device)].to(dev).contiguous(memory_format=torch.channels_last)
        return I_a, I_b, torch.full((len(a),), i, device=dev, dtype=torch.long), lab[b.to(lab.device)].to(dev)

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        """One iteration (see the module docstring); returns the logged losses."""
        c, nets = self.config, self.nets
        x, y = batch["image"], batch["expression"]
        phase = (ctx.step // c.alternate) % 2 if c.alternate else None
        gan_turn = c.synthesis and c.train_gan and phase in (None, 0)
        c_turn = phase in (None, 1)
        out: dict[str, torch.Tensor] = {}
        if not c.synthesis:
            return self._update_C(x, y, None, None, ctx, out)
        G = nets["G"]
        I_a, I_b, i, j = self._pairs(ctx)
        with ctx.autocast():
            if gan_turn:
                faces, R_x = self._generate(G, I_a, I_b, i, j, x if c.joint and c_turn else None)
            else:
                with torch.no_grad():
                    faces, R_x = self._generate(G, I_a, I_b, i, j, None)
        I_c, I_d = faces["I_c"], faces["I_d"]
        if gan_turn:
            self._update_D(I_a, I_b, i, j, faces, ctx, out)
            with ctx.autocast():
                terms = self._terms_G(I_a, I_b, i, j, faces)
                if c.joint and c_turn:
                    terms["C"], out["acc_C"] = self._loss_C(x, y, R_x, I_c.detach(), I_d.detach(), i, j,
                                                            grad_enc=True)
                    out["L_C"] = terms["C"].detach()
                out["L_G"] = L.objective_G(terms, c.lambdas)
            ctx.update(("G", "C") if "C" in terms else "G", out["L_G"])
            out.update({f"G_{k}": v.detach() for k, v in terms.items()})
        if c_turn and not (c.joint and gan_turn):
            self._update_C(x, y, I_c.detach(), I_d.detach(), ctx, out, i=i, j=j)
        return {k: v.detach() for k, v in out.items()}

    def _generate(self, G: Generator, I_a, I_b, i, j, x_C) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """``G_enc`` once on ``[I_a, I_b (, x_C)]``, the switch unit, one ``G_dec`` call for every face."""
        c, n = self.config, I_a.shape[0]
        enc_in = torch.cat([I_a, I_b] if x_C is None else [I_a, I_b, x_C])
        R, skips = G.encode(enc_in)
        R_a, R_b, R_x = R[:n], R[n:2 * n], (R[2 * n:] if x_C is not None else None)
        R_c, R_d = switch(R_a, R_b, i, j, G.bounds)
        S, zero = switch_code(i, j, c.gan.num_classes), switch_code(i, None, c.gan.num_classes)
        new, own, codes, src = [R_c, R_d, R_a, R_b], [R_a, R_b, R_a, R_b], [S, S, zero, zero], [I_a, I_b] * 2
        names = ["I_c", "I_d", "I_a_rec", "I_b_rec"]
        if c.use_inter:
            R_cp, R_dp = interpolate(R_a, R_b, i, j, G.bounds, c.p)
            new, own, codes, src = new + [R_cp, R_dp], own + [R_a, R_b], codes + [S, S], src + [I_a, I_b]
            names += ["I_c_p", "I_d_p"]
        reps = len(names) // 2
        sk = None if skips is None else [s[:2 * n].repeat(reps, 1, 1, 1) for s in skips]
        out = G.decode(torch.cat(new), torch.cat(own), torch.cat(codes), torch.cat(src), sk).split(n)
        return dict(zip(names, out)), R_x

    def _update_D(self, I_a, I_b, i, j, faces, ctx: StepContext, out: dict) -> None:
        """``D1``, ``D2`` on real, transferred (and interpolated) faces in one call each (Eqs. 5, 7)."""
        c, Ds, n = self.config, self.nets["D"], I_a.shape[0]
        fakes = [faces["I_c"], faces["I_d"]] + ([faces["I_c_p"], faces["I_d_p"]] if c.use_inter else [])
        labels = [i, j, j, i] + ([j, i] if c.use_inter else [])
        with ctx.autocast():
            logits = Ds(torch.cat([I_a, I_b, *(f.detach() for f in fakes)]), torch.cat(labels))
            real = [s[:2 * n] for s in logits]
            fake = [s[2 * n:4 * n] for s in logits]
            loss = L.adv_loss_D(real, fake)
            if c.use_inter:
                loss = loss + L.inter_loss_D([s[4 * n:] for s in logits])
        out["L_D"] = loss.detach()
        out["D_real"] = torch.sigmoid(real[0].float()).mean().detach()
        out["D_fake"] = torch.sigmoid(fake[0].float()).mean().detach()
        ctx.update("D", loss)

    def _terms_G(self, I_a, I_b, i, j, faces) -> dict[str, torch.Tensor]:
        """The generator's terms of Eq. (12) but ``L_C``."""
        c, Ds, n = self.config, self.nets["D"], I_a.shape[0]
        I_c, I_d = faces["I_c"], faces["I_d"]
        fakes = [I_c, I_d] + ([faces["I_c_p"], faces["I_d_p"]] if c.use_inter else [])
        labels = [j, i] + ([j, i] if c.use_inter else [])
        with frozen_weights(Ds):
            logits = Ds(torch.cat(fakes), torch.cat(labels))
        terms = {"adv": L.adv_loss_G([s[:2 * n] for s in logits])}
        if c.use_inter:
            terms["inter"] = L.inter_loss_G([s[2 * n:] for s in logits])
        terms["r"] = L.recon_loss(I_a, faces["I_a_rec"], I_b, faces["I_b_rec"])
        terms["p"] = L.pixel_sum_loss(I_a, I_b, I_c, I_d, pixelwise=c.pixelwise_lp)
        if "F" in self.nets:
            terms["per"] = L.perceptual_loss(self.nets["F"], I_a, I_b, I_c, I_d)
        tv = L.total_variation(torch.cat([I_c, I_d]) if c.tv_trains else torch.cat([I_c, I_d]).detach())
        terms["tv"] = tv
        return terms

    def _loss_C(self, x, y, R_x, I_c, I_d, i, j, *, grad_enc: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """``L_C`` (Eq. 8) on real faces ``x`` and, when the variant uses them, the generated ``I_c``, ``I_d``."""
        c, net_C = self.config, self.nets["C"]
        images, labels = [x], [y]
        if c.use_synthetic and I_c is not None:
            images, labels = [x, I_c, I_d], [y, j, i]
        images = torch.cat(images)
        R = None
        if c.use_expr:
            G = self.nets["G"]
            with torch.set_grad_enabled(grad_enc and torch.is_grad_enabled()):
                if R_x is not None:
                    R_gen, _ = G.encode(images[len(x):]) if len(images) > len(x) else (R_x[:0], None)
                    R = torch.cat([R_x, R_gen])
                else:
                    R, _ = G.encode(images)
            if not grad_enc:
                R = R.detach()
        logits = net_C(images, R)
        labels = torch.cat(labels)
        real_acc = (logits[: len(x)].argmax(1) == y).float().mean()
        return L.cls_loss(logits, labels), real_acc

    def _update_C(self, x, y, I_c, I_d, ctx: StepContext, out: dict, *, i=None, j=None) -> dict[str, torch.Tensor]:
        with ctx.autocast():
            loss, acc = self._loss_C(x, y, None, I_c, I_d, i, j, grad_enc=False)
        ctx.update("C", loss)
        out["L_C"], out["acc_C"] = loss.detach(), acc
        return {k: v.detach() for k, v in out.items()}


# ------------------------------------------------------------------------------ for figures


def transfer(G: Generator, I_a: torch.Tensor, I_b: torch.Tensor, i: torch.Tensor, j: torch.Tensor, *,
             p: float | torch.Tensor = 0.0, chunk: int = 256) -> torch.Tensor:
    """``I_c``: ``I_a``'s face with ``I_b``'s expression ``j`` (Eqs. 3-4), or with the blocks mixed by
    ``p`` (Eq. 6; ``p = 0`` the full transfer, ``p = 1`` the reconstruction). Eval mode, no
    gradients; returns ``(B, c, S, S)`` on the CPU."""
    dev = module_device(G)
    out = []
    with eval_mode(G):
        for lo in range(0, len(I_a), chunk):
            a, b = I_a[lo:lo + chunk].to(dev), I_b[lo:lo + chunk].to(dev)
            ii, jj = i[lo:lo + chunk].to(dev), j[lo:lo + chunk].to(dev)
            R, skips = G.encode(torch.cat([a, b]))
            R_a, R_b = R[: len(a)], R[len(a):]
            pp = p[lo:lo + chunk].to(dev) if isinstance(p, torch.Tensor) and p.dim() else p
            R_c, _ = interpolate(R_a, R_b, ii, jj, G.bounds, pp)
            code = switch_code(ii, jj, G.config.num_classes)
            sk = None if skips is None else [s[: len(a)] for s in skips]
            out.append(G.decode(R_c, R_a, code, a, sk).float().cpu())
    return torch.cat(out)


def interpolation_frames(G: Generator, I_1: torch.Tensor, I_2: torch.Tensor, i: int, j: int,
                         ps: torch.Tensor) -> torch.Tensor:
    """Fig. 11 as frames: ``I_1`` with ``I_2``'s expression, the exchanged blocks mixed by each ``p``
    of ``ps`` (Eq. 6). ``I_1``, ``I_2``: ``(c, S, S)``; returns ``(len(ps), c, S, S)``."""
    T = len(ps)
    ii, jj = torch.full((T,), i, dtype=torch.long), torch.full((T,), j, dtype=torch.long)
    return transfer(G, I_1[None].expand(T, -1, -1, -1), I_2[None].expand(T, -1, -1, -1), ii, jj, p=ps.float())
