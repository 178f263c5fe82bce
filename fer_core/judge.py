"""The generator judge: independent networks that tell whether a GAN's faces do what it claims.

Every GAN chapter asks the same three questions of its generated faces: is the *target
attribute* there (expression, pose, intensity)? Is the *identity* kept? Is the face closer to
the *true* face than simply copying the input would be? A network the generator was trained
against cannot answer them (it was optimised to be fooled or pleased). The judge therefore
trains its own small networks, on the **real** training faces of a split only, with its own
seed, and never shares a weight with a method:

- ``expression``: a :class:`~fer_core.nets.small.SmallCNN` over the expression classes;
- ``identity``: an :class:`~fer_core.nets.identity.IdentityCNN` over the training identities
  (its features judge identity by verification: true-accept rate at a fixed false-accept rate);
- ``view``: a SmallCNN over the poses (views or yaws), when the training faces have several;
- ``intensity``: a SmallCNN regressing the expression intensity, when the training faces'
  intensities vary (the synthetic world's sequences).

:meth:`Judge.score` scores a batch of generated faces in one call. On the synthetic world the
true face exists (:meth:`~fer_core.data.synthetic.world.SyntheticFaces.counterfactual` renders
the same person, take and scene with the target attribute), so the score also holds the
distance of the generated face to it next to that of a copy of the input.

A chapter trains one judge per split as an experiment of its plan (:class:`JudgeMixin`), so it
is cached like any other result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from fer_core import evaluate, metrics
from fer_core.data.memory import MemoryCachedDataset
from fer_core.experiments.plan import Experiment
from fer_core.nets.identity import IdentityCNN, identity_classes
from fer_core.nets.small import SmallCNN
from fer_core.train import Method, StepContext, make_adam

__all__ = ["JudgeConfig", "JudgeTraining", "Judge", "JudgeMixin", "VIEW_KEYS"]

#: The label a pose judge learns: ``view`` (F2ED-like named views) or ``yaw`` (Multi-PIE-like angles).
VIEW_KEYS = ("view", "yaw")
_INTENSITY_SPREAD = 0.1  # an intensity judge only where training intensities vary more than peak-to-peak jitter


@dataclass(frozen=True)
class JudgeConfig:
    """How the judge's networks are trained (the same budget for each of them)."""

    steps: int = 400
    batch_size: int = 32
    lr: float = 1e-3
    width: int = 16
    id_widths: tuple[int, int, int, int] = (16, 32, 64, 64)
    id_feature_dim: int = 64

    @classmethod
    def from_profile(cls, P: Mapping[str, Any]) -> "JudgeConfig":
        """``judge_steps``, ``judge_batch_size``, ``judge_width`` and ``judge_id_widths`` (the identity
        network's four widths) of a chapter profile (defaults otherwise)."""
        return cls(steps=int(P.get("judge_steps", cls.steps)), batch_size=int(P.get("judge_batch_size", cls.batch_size)),
                   width=int(P.get("judge_width", cls.width)),
                   id_widths=tuple(int(w) for w in P.get("judge_id_widths", cls.id_widths)))


def _pose_labels(data: Mapping[str, torch.Tensor]) -> tuple[str, torch.Tensor, list[float]] | None:
    """``(key, codes, values)`` of the pose column with more than one value, or ``None``."""
    for key in VIEW_KEYS:
        if key in data and data[key].numel():
            values = torch.unique(data[key].float())
            if len(values) > 1 and not (key == "view" and bool((values < 0).all())):
                codes = torch.bucketize(data[key].float().contiguous(), values.contiguous())
                return key, codes, values.tolist()
    return None


class JudgeTraining(Method):
    """Trains the judge's networks side by side on the same batches, each with its own loss and Adam."""

    def __init__(self, train: MemoryCachedDataset, config: JudgeConfig):
        data = train.data
        channels, k = int(data["image"].shape[1]), len(train.classes)
        nets: dict[str, nn.Module] = {"expression": SmallCNN(channels, k, width=config.width)}
        n_ids, _ = identity_classes(train)
        nets["identity"] = IdentityCNN(in_channels=channels, widths=config.id_widths,
                                       feature_dim=config.id_feature_dim, num_classes=n_ids)
        pose = _pose_labels(data)
        self.pose_key, self.pose_values = (pose[0], pose[2]) if pose else (None, [])
        if pose:
            nets["view"] = SmallCNN(channels, len(pose[2]), width=config.width)
        self.has_intensity = "intensity" in data and float(data["intensity"].float().std()) > _INTENSITY_SPREAD
        if self.has_intensity:
            nets["intensity"] = SmallCNN(channels, 1, width=config.width)
        self.nets = nn.ModuleDict(nets)
        self.optimizers = {name: make_adam(net.parameters(), lr=config.lr) for name, net in nets.items()}
        self.schedulers = {}

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        x, out = batch["image"], {}
        with ctx.autocast():
            logits = self.nets["expression"](x)
            loss = F.cross_entropy(logits.float(), batch["expression"])
        ctx.update("expression", loss)
        out["L_expression"], out["acc_expression"] = loss, (logits.argmax(1) == batch["expression"]).float().mean()
        with ctx.autocast():
            logits = self.nets["identity"].logits(x)
            loss = F.cross_entropy(logits.float(), batch["identity"])
        ctx.update("identity", loss)
        out["L_identity"] = loss
        if "view" in self.nets:
            target = torch.bucketize(batch[self.pose_key].float().contiguous(),
                                     torch.tensor(self.pose_values, device=x.device))
            with ctx.autocast():
                logits = self.nets["view"](x)
                loss = F.cross_entropy(logits.float(), target)
            ctx.update("view", loss)
            out["L_view"] = loss
        if self.has_intensity:
            with ctx.autocast():
                loss = F.mse_loss(self.nets["intensity"](x).float().squeeze(1), batch["intensity"].float())
            ctx.update("intensity", loss)
            out["L_intensity"] = loss
        return {k: v.detach() for k, v in out.items()}

    def extra_state(self) -> dict:
        return {"pose_key": self.pose_key, "pose_values": list(self.pose_values), "has_intensity": self.has_intensity}


class Judge:
    """The trained judge of one split (see the module docstring); networks in eval mode.

    Args:
        nets: ``expression``, ``identity`` and optionally ``view``, ``intensity`` (from :class:`JudgeTraining`).
        pose_key, pose_values: the pose column the view network learned and its values in code order.
        far: the false-accept rate of the identity verification.
    """

    def __init__(self, nets: Mapping[str, nn.Module], *, pose_key: str | None = None,
                 pose_values: list[float] | None = None, far: float = 0.01):
        self.nets = {k: v.eval() for k, v in nets.items()}
        self.pose_key, self.pose_values, self.far = pose_key, list(pose_values or []), far
        self.device = evaluate.module_device(self.nets["expression"])

    @classmethod
    def from_training(cls, method: JudgeTraining, **kw: Any) -> "Judge":
        return cls(dict(method.nets.items()), pose_key=method.pose_key, pose_values=method.pose_values, **kw)

    def _out(self, name: str, images: torch.Tensor) -> torch.Tensor:
        net = self.nets[name]
        return evaluate.apply(net, images, modules=(net,))

    def expression(self, images: torch.Tensor) -> torch.Tensor:
        """``(N,)`` the expression the judge reads from each face."""
        return self._out("expression", images).argmax(1)

    def expression_probs(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, K)`` the judge's class probabilities for each face."""
        return self._out("expression", images).softmax(1)

    def view(self, images: torch.Tensor) -> torch.Tensor:
        """``(N,)`` the pose code (index into ``pose_values``) the judge reads."""
        return self._out("view", images).argmax(1)

    def intensity(self, images: torch.Tensor) -> torch.Tensor:
        """``(N,)`` the expression intensity the judge reads (in [0, 1] for faces like the training faces)."""
        return self._out("intensity", images).squeeze(1)

    def identity_features(self, images: torch.Tensor) -> torch.Tensor:
        net = self.nets["identity"]
        return evaluate.features(net.features, images, modules=(net,))

    def pose_code(self, values: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Codes of pose ``values`` (views as their int codes, yaws in degrees) in the judge's order."""
        return torch.bucketize(torch.as_tensor(values).float().contiguous(), torch.tensor(self.pose_values))

    def score(self, fake: torch.Tensor, *, source: torch.Tensor, subjects: np.ndarray | None = None,
              expression: torch.Tensor | None = None, pose: torch.Tensor | np.ndarray | None = None,
              truth: torch.Tensor | None = None) -> dict[str, float]:
        """Score generated faces against what they were asked to be.

        Args:
            fake: ``(N, C, S, S)`` generated faces in [-1, 1].
            source: ``(N, C, S, S)`` the real faces they were made from (the "copy" baseline).
            subjects: ``(N,)`` subject of each source (identity kept: verification of source vs
                fake, impostors being fakes of other subjects); needs at least two subjects.
            expression: ``(N,)`` target expressions; pose: ``(N,)`` target pose values.
            truth: ``(N, C, S, S)`` the true faces with the target attributes (synthetic world).

        Returns:
            ``target_expression`` (accuracy of the judge's reading against the target, on the
            fakes) and ``source_expression`` (the same reading on the unchanged sources: what a
            copy would score), likewise ``target_pose``/``source_pose``; ``identity_tar`` (and
            ``identity_cosine``, the mean cosine similarity of source and fake); with ``truth``:
            ``psnr``/``ssim``/``l1`` of fake vs truth and ``copy_psnr``/``copy_ssim``/``copy_l1``
            of source vs truth, and ``truth_expression`` (the judge on the true faces: its ceiling);
            ``intensity_fake``/``intensity_source``/``intensity_truth`` when the judge reads intensity.
        """
        fake, source = fake.detach().float().cpu(), source.detach().float().cpu()
        out: dict[str, float] = {"n": float(len(fake))}
        if expression is not None:
            target = torch.as_tensor(expression).long().cpu()
            out["target_expression"] = float((self.expression(fake) == target).double().mean())
            out["source_expression"] = float((self.expression(source) == target).double().mean())
            if truth is not None:
                out["truth_expression"] = float((self.expression(truth.float().cpu()) == target).double().mean())
        if pose is not None and "view" in self.nets:
            target = self.pose_code(pose)
            out["target_pose"] = float((self.view(fake) == target).double().mean())
            out["source_pose"] = float((self.view(source) == target).double().mean())
        if subjects is not None and len(set(np.asarray(subjects).tolist())) > 1:
            out.update(self._identity(fake, source, np.asarray(subjects)))
        if truth is not None:
            truth = truth.detach().float().cpu().clamp(-1, 1)
            fake_c = fake.clamp(-1, 1)
            out.update(psnr=metrics.psnr(fake_c, truth), ssim=metrics.ssim(fake_c, truth),
                       l1=float((fake_c - truth).abs().mean()), copy_psnr=metrics.psnr(source, truth),
                       copy_ssim=metrics.ssim(source, truth), copy_l1=float((source - truth).abs().mean()))
        if "intensity" in self.nets:
            out["intensity_fake"] = float(self.intensity(fake).mean())
            out["intensity_source"] = float(self.intensity(source).mean())
            if truth is not None:
                out["intensity_truth"] = float(self.intensity(truth).mean())
        return out

    def _identity(self, fake: torch.Tensor, source: torch.Tensor, subjects: np.ndarray) -> dict[str, float]:
        a, f = self.identity_features(source), self.identity_features(fake)
        g = torch.Generator().manual_seed(0)
        others = []
        for i, s in enumerate(subjects):
            pool = np.flatnonzero(subjects != s)
            others.append(int(pool[torch.randint(len(pool), (1,), generator=g).item()]))
        same = torch.cat([torch.ones(len(a), dtype=torch.bool), torch.zeros(len(a), dtype=torch.bool)])
        tar = metrics.verification_rate(torch.cat([a, a]), torch.cat([f, f[others]]), same, far=self.far)
        return {"identity_tar": tar, "identity_cosine": float(F.cosine_similarity(a, f, dim=1).mean())}


class JudgeMixin:
    """What a :class:`~fer_core.experiments.study.Study` adds to have one judge per split.

    The chapter's ``make`` returns :meth:`judge_experiment` for the variant ``"judge"``, its
    ``train``/``evaluate`` hand that variant to :meth:`train_judge`/:meth:`evaluate_judge`,
    and experiments that score faces declare it in ``after``. The judge trains on the split's
    real training faces only, with its own seed (``1_000 + data seed + fold``).
    """

    JUDGE = "judge"

    def judge_experiment(self, fold: int) -> Experiment:
        return Experiment(self.JUDGE, fold, self.seed, cost=4 * JudgeConfig.from_profile(self.P).steps)

    def train_judge(self, exp: Experiment) -> JudgeTraining:
        config = JudgeConfig.from_profile(self.P)
        train = self.data.fold(exp.fold, self.device)["train"]
        torch.manual_seed(1_000 + self.seed + exp.fold)
        method = JudgeTraining(train, config)
        self.fit(method, exp, train, steps=config.steps, batch_size=config.batch_size, seed=1_000 + self.seed + exp.fold)
        return method

    def evaluate_judge(self, exp: Experiment, method: JudgeTraining) -> dict[str, Any]:
        """The judge's own accuracy on the split's real test faces: how far its readings can be trusted."""
        judge = Judge.from_training(method)
        test = self.data.fold(exp.fold, self.device)["test"]
        x = test.data["image"]
        out: dict[str, Any] = {"expression_accuracy": float((judge.expression(x) == test.data["expression"].cpu())
                                                            .double().mean()),
                               "networks": sorted(method.nets.keys())}
        if "view" in judge.nets:
            out["pose_accuracy"] = float((judge.view(x) == judge.pose_code(test.data[judge.pose_key].cpu()))
                                         .double().mean())
        if "intensity" in judge.nets:
            out["intensity_mae"] = float((judge.intensity(x) - test.data["intensity"].float().cpu()).abs().mean())
        return out

    def judge_quality(self) -> pd.DataFrame:
        """:meth:`evaluate_judge` of every fold's judge, one row per fold (how far its readings of
        generated faces can be trusted)."""
        rows = [{"fold": e.fold, **{k: v for k, v in r.items() if k != "networks"}} for e, r in self.results(self.JUDGE)]
        return pd.DataFrame(rows).set_index("fold")

    def judge(self, fold: int) -> Judge:
        """The trained judge of ``fold`` (trained first if its checkpoint is missing)."""
        cache = self.__dict__.setdefault("_judges", {})
        if fold not in cache:
            cache[fold] = Judge.from_training(self.train_judge(self.judge_experiment(fold)))
        return cache[fold]
