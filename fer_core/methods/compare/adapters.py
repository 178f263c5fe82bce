"""Each paper's idea entering the one protocol, through its own package's networks and steps.

An :class:`Adapter` does three things with a paper package, and nothing else:

- ``build`` / ``train_set``: the paper's own :class:`~fer_core.train.Method` (its networks, losses and
  ``step``) and the faces of a fold it trains on, in the form its step reads;
- ``augment``: ``n`` labelled faces the trained generator adds to the shared recogniser's training
  set (the same ``n`` for every method);
- ``edit``: the paper's edit of given input faces (for the judge, the Fréchet distance and the
  figure row), with the target the judge should read and, on the synthetic world, the true face;
- ``transform`` (GroupGAN only): what happens to a face *before* the recogniser reads it.

============  ===========================================  ====================================================
adapter       the paper's idea here                         the package's pieces
============  ===========================================  ====================================================
FESR          faces of *new identities* from FESGAN         ``FESR`` (FESGAN variant), ``sample_new_identities``,
                                                            ``synthesize``
JESRL         expression transfer between real faces        ``JESRL`` (switch GAN + its C), ``transfer``
FaPE-GAN      the same face in another view                 ``FaPEGAN``, ``augment``, ``transfer``, ``pose_map``
GroupGAN      weak faces magnified before recognition       ``GroupGAN`` (2V2), ``PairedFrames``, ``magnify``
Comp-GAN      composed expression + pose edits              ``fer_core.methods.compgan`` public API
============  ===========================================  ====================================================

Shapes: images ``(N, C, S, S)`` in [-1, 1]; labels ``(N,)`` int64; everything returned on the CPU.
"""

from __future__ import annotations

import abc
import math
import time
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

import numpy as np
import torch

from fer_core.train import Method

if TYPE_CHECKING:
    from fer_core.experiments.study import Study  # the comparison's study (CompareStudy); the base avoids an import circle

__all__ = ["Adapter", "ADAPTERS", "adapter", "FESRAdapter", "JESRLAdapter", "FaPEAdapter", "GroupGANAdapter",
           "CompGANAdapter", "other_labels"]


def other_labels(y: torch.Tensor, K: int, rng: np.random.Generator) -> torch.Tensor:
    """``(N,)`` a label different from each of ``y``, drawn uniformly among the other ``K - 1``."""
    shift = torch.from_numpy(rng.integers(1, K, size=len(y)))
    return (y.cpu() + shift) % K


class Adapter(abc.ABC):
    """One method on the comparison's protocol (see the module table).

    Class attributes: ``name`` (the variant name in every table), ``idea`` (one phrase),
    ``paper`` (its bibliography key), ``needs`` (what the data must hold: ``"views"``,
    ``"sequences"``), ``target`` (what the judge reads in its edits: ``"expression"``,
    ``"pose"``, ``"intensity"`` or ``"expression+pose"``), ``package`` (the paper package it reuses).
    """

    name: ClassVar[str] = ""
    idea: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ()
    target: ClassVar[str] = "expression"
    package: ClassVar[str] = ""

    @abc.abstractmethod
    def build(self, study: "Study", fold: int) -> Method:
        """The paper's untrained method for this protocol on ``fold`` (global RNG seeded by the caller)."""

    def train_set(self, study: "Study", fold: int) -> Any:
        """What the method's ``step`` reads: by default the fold's training faces."""
        return study.data.fold(fold, study.device)["train"]

    def fit(self, study: "Study", exp: Any) -> tuple[Any, float]:
        """Train (or reload) the generator of ``exp`` with the shared loop in its run folder:
        ``(trained method, training seconds)`` (NaN seconds when it was only reloaded)."""
        P = study.P
        method = self.build(study, exp.fold)
        steps = int(P["gan_steps"])
        fresh = not study.finished(exp, steps)
        res = study.fit(method, exp, self.train_set(study, exp.fold), steps=steps,
                        batch_size=int(P["gan_batch_size"]), seed=study.seed + exp.fold)
        method.nets.eval()
        return method, (res.seconds if fresh and res.resumed_from == 0 else math.nan)

    def cost(self, method: Any, study: "Study", fold: int) -> dict[str, float]:
        """FLOPs and memory of one training step of ``method`` (:func:`~fer_core.methods.compare.cost.step_cost`)."""
        from fer_core.methods.compare.cost import step_cost

        ds = self.train_set(study, fold)
        batch = ds.__getitems__(list(range(min(int(study.P["gan_batch_size"]), len(ds)))))
        return step_cost(method, batch, device=study.device, step=int(study.P["gan_steps"]),
                         images=self.images_per_step(study))

    def images_per_step(self, study: "Study") -> int:
        """Real faces one training step reads (the FLOPs per training image divide by it)."""
        return int(study.P["gan_batch_size"])

    @abc.abstractmethod
    def augment(self, method: Method, study: "Study", fold: int, n: int, seed: int) -> dict[str, torch.Tensor]:
        """``{"image": (n, C, S, S), "expression": (n,)}`` generated from the fold's training faces."""

    @abc.abstractmethod
    def edit(self, method: Method, study: "Study", src: Mapping[str, Any], rng: np.random.Generator
             ) -> dict[str, Any]:
        """The paper's edit of ``src`` (``study.edit_inputs``): ``fake`` ``(N, C, S, S)``, the judge's
        targets ``expression`` ``(N,)`` and ``pose`` (view codes or ``None``), and ``truth`` (the true
        face, synthetic world only, else ``None``)."""

    def transform(self, method: Method, x: torch.Tensor) -> torch.Tensor:
        """A face as the recogniser reads it (identity: the recogniser reads the face itself)."""
        return x


# -- FESR ----------------------------------------------------------------------------------------------
class FESRAdapter(Adapter):
    package = "fer_core.methods.fesr"
    name, idea, paper = "FESR", "faces of new identities (z ~ U(-1, 1)) from FESGAN", "yan2020fesr"

    def build(self, study: "Study", fold: int) -> Method:
        from fer_core.methods.fesr.method import FESR, FESRConfig, fesr_variant
        from fer_core.methods.fesr.nets import FESGANConfig, RConfig

        P, K = study.P, study.K
        gan = FESGANConfig.at(int(P["size"]), width=int(P["fesr_width"]), channels=int(P["channels"]),
                              num_classes=K, latent_dim=int(P["fesr_latent_dim"]), d_z=tuple(P["fesr_d_z"]))
        l1, _, l3, _, l5, l6 = FESRConfig.lambdas
        config = fesr_variant("FG-IP", gan=gan, r=RConfig(image_size=int(P["size"]), channels=int(P["channels"]),
                                                          num_classes=K),
                              lr=float(P["fesr_lr"]), lambdas=(l1, float(P["fesr_lambda_rec"]), l3,
                                                              float(P["fesr_lambda_cls"]), l5, l6))
        return FESR(config)

    def augment(self, method, study, fold, n, seed):
        from fer_core.methods.fesr.method import sample_new_identities

        K = study.K
        g = torch.Generator().manual_seed(seed)
        faces = sample_new_identities(method.nets["G"].G_dec, -(-n // K), list(range(K)), intensity=1.0, generator=g)
        y = torch.arange(K).repeat(faces.shape[0])
        return {"image": faces.flatten(0, 1)[:n].float(), "expression": y[:n]}

    def edit(self, method, study, src, rng):
        from fer_core.methods.fesr.method import synthesize

        target = other_labels(src["expression"], study.K, rng)
        fake = synthesize(method.nets["G"], src["image"], target, intensity=1.0)
        return {"fake": fake.float(), "expression": target, "pose": None,
                "truth": study.counterfactual(src["rows"], expression=target.numpy())}


# -- JESRL ---------------------------------------------------------------------------------------------
class JESRLAdapter(Adapter):
    package = "fer_core.methods.jesrl"
    name, idea, paper = "JESRL", "expression transfer between real faces (switch GAN)", "zhang2021jesrl"

    def build(self, study: "Study", fold: int) -> Method:
        from fer_core.methods.jesrl.method import JESRL, jesrl_variant
        from fer_core.methods.jesrl.nets import ClassifierConfig, SwitchGANConfig

        P, K = study.P, study.K
        S, c = int(P["size"]), int(P["channels"])
        gan = SwitchGANConfig.at(S, width=int(P["jesrl_width"]), channels=c, num_classes=K)
        clf = ClassifierConfig(image_size=S, channels=c, num_classes=K, vgg_width=int(P["jesrl_vgg_width"]),
                               batch_norm=True, fuse=int(P["jesrl_c_fuse"]), fc=tuple(P["jesrl_c_fc"]), dropout=0.2)
        lam = tuple(float(x) for x in P["jesrl_lambdas"])
        config = jesrl_variant("No_ExpR", gan=gan, clf=clf, lambdas=lam, lr=float(P["jesrl_lr"]),
                               lr_C=float(P["jesrl_lr_C"]), optimizer_C="adam", pairs=int(P["jesrl_pairs"]))
        train = study.data.fold(fold, study.device)["train"]
        return JESRL(config, train=train.data, perceptual=None, seed=study.seed + fold)

    def images_per_step(self, study):
        return int(study.P["gan_batch_size"]) + 2 * int(study.P["jesrl_pairs"])  # C's batch and the unpaired pairs

    def augment(self, method, study, fold, n, seed):
        from fer_core.methods.jesrl.method import transfer

        data = study.data.fold(fold, study.device)["train"].data
        y = data["expression"].cpu()
        rng = np.random.default_rng(seed)
        a = torch.from_numpy(rng.integers(len(y), size=n))
        j = other_labels(y[a], study.K, rng)
        b = torch.stack([_draw(y, int(k), rng) for k in j])
        img = data["image"]
        fake = transfer(method.nets["G"], img[a.to(img.device)], img[b.to(img.device)], y[a], j)
        return {"image": fake.float(), "expression": j}

    def edit(self, method, study, src, rng):
        from fer_core.methods.jesrl.method import transfer

        train = study.data.fold(src["fold"], study.device)["train"].data
        y_train = train["expression"].cpu()
        target = other_labels(src["expression"], study.K, rng)
        b = torch.stack([_draw(y_train, int(k), rng) for k in target])
        fake = transfer(method.nets["G"], src["image"], train["image"][b.to(train["image"].device)].cpu(),
                        src["expression"], target)
        return {"fake": fake.float(), "expression": target, "pose": None,
                "truth": study.counterfactual(src["rows"], expression=target.numpy())}


def _draw(labels: torch.Tensor, k: int, rng: np.random.Generator) -> torch.Tensor:
    rows = torch.nonzero(labels == k).flatten()
    if not len(rows):
        raise ValueError(f"the training faces hold no face of expression {k}; a transfer to it needs one")
    return rows[int(rng.integers(len(rows)))]


# -- FaPE-GAN ------------------------------------------------------------------------------------------
class _SameTake:
    """A fold's training faces whose ``identity`` codes one person's take and frame: FaPE-GAN's view pairs
    then join only faces that differ by the camera (the synthetic world records every view at once)."""

    def __init__(self, faces: Any, meta_rows, *, device):
        import pandas as pd

        m = meta_rows
        frame = m["frame"].astype(str) if "frame" in m.columns else pd.Series("", index=m.index)
        seq = m["sequence"].astype(str) if "sequence" in m.columns else pd.Series("", index=m.index)
        key = (m["subject"].astype(str) + "|" + seq + "|" + frame).to_numpy()
        codes = torch.from_numpy(np.unique(key, return_inverse=True)[1].astype(np.int64)).to(device)
        self.data = {**faces.data, "identity": codes}


class FaPEAdapter(Adapter):
    package = "fer_core.methods.fapegan"
    name, idea, paper = "FaPE-GAN", "the same face in another view (landmark pose maps)", "wang2019fapegan"
    needs, target = ("views",), "pose"

    def build(self, study: "Study", fold: int) -> Method:
        from fer_core.methods.fapegan.method import FaPEGAN
        from fer_core.methods.fapegan.nets import FaPEConfig

        P = study.P
        return FaPEGAN(FaPEConfig(image_size=int(P["size"]), channels=int(P["channels"]), width=int(P["fape_width"])),
                       lam=float(P["fape_lam"]), lr=float(P["fape_lr"]))

    def _faces(self, study, fold):
        train = study.data.fold(fold, study.device)["train"]
        return _SameTake(train, study.data.dataset.meta.iloc[study.data.splits[fold].train], device=study.device)

    def train_set(self, study, fold):
        from fer_core.methods.fapegan.method import PairedViews

        return PairedViews(self._faces(study, fold))

    def images_per_step(self, study):
        return 2 * int(study.P["gan_batch_size"])  # I_i and I_t of each pair

    def augment(self, method, study, fold, n, seed):
        from fer_core.methods.fapegan.method import augment

        out = augment(method.nets["G"], self._faces(study, fold), n, seed=seed)
        return {"image": out["image"].float(), "expression": out["expression"]}

    def edit(self, method, study, src, rng):
        from fer_core.methods.fapegan.method import transfer
        from fer_core.methods.fapegan.posemap import pose_map

        views = study.other_views(src, rng)
        if views is None:
            raise ValueError("FaPE-GAN's edit needs the input faces in another seen view (a dataset with views)")
        target_rows, target_view = views
        truth = study.faces(target_rows)
        I_P = pose_map(truth["landmarks"], int(study.P["size"]))
        fake = transfer(method.nets["G"], src["image"], I_P)
        return {"fake": fake.float(), "expression": src["expression"], "pose": target_view,
                "truth": truth["image"] if study.data.synthetic else None}


# -- GroupGAN ------------------------------------------------------------------------------------------
class PlainBaseNet(torch.nn.Module):
    """The book's plain CNN as a GroupGAN BaseNet: ``E`` = SmallCNN's conv blocks, global pooling and the
    reduced FC head, ``(B, C, S, S)`` -> ``F_exp`` ``(B, fc[-1])``; ``C`` = the last FC layer -> ``(B, K)``.

    Deviation from GroupGAN: Table 1's BaseNets are torchvision networks (ResNet-18's step takes about
    two seconds on one CPU core at 32 px); the comparison gives GroupGAN the recogniser every method is
    measured with, at its width.
    """

    def __init__(self, in_channels: int, num_classes: int, *, width: int, fc: tuple[int, ...], dropout: float = 0.2):
        super().__init__()
        from fer_core.nets.small import SmallCNN

        cnn = SmallCNN(in_channels, num_classes, width=width)
        self.trunk = torch.nn.Sequential(cnn.body, cnn.pool, torch.nn.Flatten())
        layers, cin = [], cnn.feature_dim
        for w in fc:
            layers += [torch.nn.Linear(cin, w), torch.nn.ReLU(inplace=True), torch.nn.Dropout(dropout)]
            cin = w
        self.head = torch.nn.Sequential(*layers)
        self.classifier = torch.nn.Linear(cin, num_classes)
        self.feature_dim, self.num_classes = cin, num_classes

    def E(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))

    features = E

    def C(self, F: torch.Tensor) -> torch.Tensor:
        return self.classifier(F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.C(self.E(x))

    def E_parameters(self):
        return [*self.trunk.parameters(), *self.head.parameters()]

    def C_parameters(self):
        return list(self.classifier.parameters())


class GroupGANAdapter(Adapter):
    package = "fer_core.methods.groupgan"
    name, idea, paper = "GroupGAN", "weak faces magnified (weak -> peak) before recognition", "niu2022groupgan"
    needs, target = ("sequences",), "intensity"

    def build(self, study: "Study", fold: int) -> Method:
        from fer_core.methods.groupgan.method import GroupGAN, GroupGANSettings
        from fer_core.methods.groupgan.nets import GroupGANConfig

        P = study.P
        fc = tuple(int(x) for x in P["groupgan_fc"])
        gan = GroupGANConfig.at(int(P["size"]), width=int(P["groupgan_width"]), channels=int(P["channels"]),
                                cond_dim=fc[-1], residual=True)
        from fer_core.methods.groupgan.method import _optimizer

        adv = float(P["groupgan_adv"])
        basenet = str(P["groupgan_basenet"])
        s = GroupGANSettings(framework="2V2", basenet="resnet18" if basenet == "plain" else basenet,
                             num_classes=study.K, gan=gan, fc=fc, dropout=0.2, alpha_G=adv, beta_G=adv, alpha_E=adv,
                             beta_E=adv, gamma_G=float(P["groupgan_gamma_G"]), lr=float(P["groupgan_lr"]),
                             lr_C=float(P["groupgan_lr_C"]), optimizer="adam", flip=False)
        method = GroupGAN(s)
        if basenet == "plain":  # the book's plain CNN as the BaseNet (see PlainBaseNet), with GroupGAN's optimisers
            net = PlainBaseNet(int(P["channels"]), study.K, width=int(P["cnn_width"]), fc=fc)
            method.nets["C"] = net
            method.optimizers["E"] = _optimizer(net.E_parameters(), s, s.lr_C)
            method.optimizers["C"] = _optimizer(net.C_parameters(), s, s.lr_C)
        return method

    def _pairs(self, study, fold):
        from fer_core.methods.compare.protocol import weak_peak_pairs

        pairs = weak_peak_pairs(study.data.dataset.meta, study.data.splits[fold].train)
        if not len(pairs):
            raise ValueError("GroupGAN needs neutral-to-peak sequences (weak frames with their peak frame); "
                             "this data has none: use the synthetic world or a dataset with sequences (CK+, Oulu)")
        return pairs

    def train_set(self, study, fold):
        from fer_core.methods.groupgan.method import PairedFrames

        train = study.data.fold(fold, study.device)["train"].data
        return PairedFrames(train["image"], train["expression"], self._pairs(study, fold))

    def images_per_step(self, study):
        return 2 * int(study.P["gan_batch_size"])  # the weak face and its peak

    def augment(self, method, study, fold, n, seed):
        from fer_core.methods.groupgan.method import magnify

        train = study.data.fold(fold, study.device)["train"].data
        weak = np.unique(self._pairs(study, fold)[:, 0])
        rows = torch.from_numpy(np.random.default_rng(seed).choice(weak, size=n))
        x = train["image"][rows.to(train["image"].device)]
        return {"image": magnify(method, x).float().cpu(), "expression": train["expression"].cpu()[rows]}

    def edit(self, method, study, src, rng):
        from fer_core.methods.groupgan.method import magnify

        dev = study.device
        fake = magnify(method, src["image"].to(dev)).float().cpu()
        return {"fake": fake, "expression": src["expression"], "pose": None,
                "truth": study.counterfactual(src["rows"], frame=src["peak_frame"])}

    def transform(self, method, x):
        from fer_core.methods.groupgan.method import magnify

        dev = next(method.nets["G"].parameters()).device
        return magnify(method, x.to(dev)).float().to(x.device)


# -- Comp-GAN ------------------------------------------------------------------------------------------
class CompGANAdapter(Adapter):
    """Comp-GAN through its package's public API (:func:`fer_core.methods.compgan.train_compgan`, which trains
    F_cls, then G(Exp) + G(Pose) by Algorithm 1, and ``CompGANModel.edit`` / ``augment``)."""

    package = "fer_core.methods.compgan"
    name, idea, paper = "Comp-GAN", "composed expression and pose edits (G(Pose) then G(Exp))", "wang2020compgan"
    needs, target = ("views",), "expression+pose"

    def build(self, study, fold):
        raise NotImplementedError("Comp-GAN trains through train_compgan (see CompGANAdapter.fit)")

    def fit(self, study, exp):
        from fer_core.methods.compgan import train_compgan

        P = study.P
        data = study.data.fold(exp.fold, study.device)["train"].data
        fresh = not (study.run_dir(exp) / "CompGAN").exists()
        t0 = time.perf_counter()
        model = train_compgan(data["image"], data["expression"].cpu(), data["identity"].cpu(), data["view"].cpu(),
                              steps=int(P["gan_steps"]), batch_size=int(P["compgan_batch_size"]),
                              width=int(P["compgan_width"]), cls_steps=int(P["compgan_cls_steps"]),
                              lr=float(P["compgan_lr"]), seed=study.seed + exp.fold, device=str(study.device),
                              run_dir=study.run_dir(exp))
        return model, (time.perf_counter() - t0 if fresh else math.nan)

    def cost(self, model, study, fold):
        from fer_core.methods.compare.cost import step_cost
        from fer_core.methods.compgan.losses import LAMBDA, MU
        from fer_core.methods.compgan.method import CompGAN, Quadruples

        gan = CompGAN(model.config, model.F_cls, lam=LAMBDA, mu=MU, lr=float(study.P["compgan_lr"]))
        for k in ("G_Pose", "G_Exp"):
            gan.nets[k].load_state_dict(getattr(model, k).state_dict())
        ds = Quadruples(model.faces, seed=fold)
        batch = ds.__getitems__(list(range(int(study.P["compgan_batch_size"]))))
        return step_cost(gan, batch, device=study.device, step=int(study.P["gan_steps"]),
                         images=self.images_per_step(study))

    def images_per_step(self, study):
        return 8 * int(study.P["compgan_batch_size"])  # a tuple: the source, three true faces, four references

    def augment(self, model, study, fold, n, seed):
        out = model.augment(-(-n // study.K), seed=seed)
        keep = torch.from_numpy(np.random.default_rng(seed).permutation(len(out["image"]))[:n])
        return {"image": out["image"][keep].float(), "expression": out["expression"][keep].long()}

    def edit(self, model, study, src, rng):
        views = study.other_views(src, rng)
        if views is None:
            raise ValueError("Comp-GAN's edit needs the input faces in another seen view (a dataset with views)")
        target_rows, target_view = views
        target = other_labels(src["expression"], study.K, rng)
        fake = model.edit(src["image"], expression=target, view=target_view, source_expression=src["expression"],
                          source_view=src["view"].long(), source_identity=src["identity"].long(),
                          seed=int(rng.integers(1 << 30)))
        truth = study.counterfactual(target_rows, expression=target.numpy())
        return {"fake": fake.float().cpu(), "expression": target, "pose": target_view, "truth": truth}


ADAPTERS: dict[str, type[Adapter]] = {a.name: a for a in (FESRAdapter, JESRLAdapter, FaPEAdapter, GroupGANAdapter,
                                                          CompGANAdapter)}


def adapter(name: str) -> Adapter:
    """The adapter of method ``name`` (a key of :data:`ADAPTERS`)."""
    if name not in ADAPTERS:
        raise ValueError(f"unknown method {name!r} for the comparison; choose from {list(ADAPTERS)}")
    return ADAPTERS[name]()
