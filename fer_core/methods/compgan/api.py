"""Comp-GAN as a tool for other chapters: train on given faces, edit faces, augment a training set.

See the package docstring (:mod:`fer_core.methods.compgan`) for the signatures and shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from fer_core import runtime
from fer_core.data.memory import TensorFaces
from fer_core.methods.compgan.augment import augment, edit, pick_references
from fer_core.methods.compgan.losses import LAMBDA, MU
from fer_core.methods.compgan.method import CompGAN, FclsTraining, Quadruples, codes_of
from fer_core.methods.compgan.nets import CompGANConfig, F_cls, FclsConfig
from fer_core.train import fit

__all__ = ["CompGANModel", "train_compgan"]


@dataclass
class CompGANModel:
    """Trained G(Pose), G(Exp) and F_cls with the faces they trained on (the pool of references)."""

    G_Pose: torch.nn.Module
    G_Exp: torch.nn.Module
    F_cls: torch.nn.Module
    faces: TensorFaces
    config: CompGANConfig
    log: dict[str, float] = field(default_factory=dict)

    @property
    def nets(self) -> dict[str, torch.nn.Module]:
        return {"G_Pose": self.G_Pose, "G_Exp": self.G_Exp}

    def edit(self, source: torch.Tensor, *, expression: torch.Tensor | None = None, view: torch.Tensor | None = None,
             source_expression: torch.Tensor | None = None, source_view: torch.Tensor | None = None,
             source_identity: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
        """``(N, C, S, S)`` faces ``source`` with target ``expression`` and/or ``view`` codes (``(N,)`` each).

        References come from the training faces: for a new view a face in that view (preferably with
        the source's expression), for a new expression a face showing it (preferably in the face's view
        at that moment), never of ``source_identity`` where given.
        """
        if expression is None and view is None:
            raise ValueError("edit needs a target expression, a target view, or both")
        n = len(source)
        kind = "G(Pose)+G(Exp)" if expression is not None and view is not None else \
            "G(Exp)" if expression is not None else "G(Pose)"
        fill = lambda t: torch.full((n,), -1, dtype=torch.long) if t is None else torch.as_tensor(t).long()  # noqa: E731
        et, pt = fill(expression), fill(view)
        es, ps, it = fill(source_expression), fill(source_view), fill(source_identity)
        if kind == "G(Exp)" and (ps < 0).any():
            ps = torch.zeros(n, dtype=torch.long)  # unknown: any view of the reference will do
        et = torch.where(et < 0, es.clamp(min=0), et)
        pt = torch.where(pt < 0, ps.clamp(min=0), pt)
        codes = codes_of(self.faces.data, "Comp-GAN's references")
        rng = np.random.default_rng(seed)
        refs = np.array([pick_references(codes, kind, int(i), int(e0), int(p0), int(e), int(p), rng)
                         for i, e0, p0, e, p in zip(it, es, ps, et, pt)]).reshape(-1, 3)
        img = self.faces.data["image"].cpu()
        r = lambda j: img[torch.from_numpy(refs[:, j])]  # noqa: E731
        return edit(kind, self.nets, source.cpu(), ref_pose=r(0), ref_exp=r(1), ref_both=r(2), et=et, pt=pt)

    def augment(self, n_per_class: int, *, kind: str = "G(Pose)+G(Exp)", novel_by: str = "",
                novel: Sequence[int] = (), seed: int = 0) -> dict[str, torch.Tensor]:
        """Generated faces of the training faces (see :func:`~fer_core.methods.compgan.augment.augment`)."""
        return augment(kind, self.nets, self.faces, novel_by=novel_by, novel=novel, n_per_class=n_per_class, seed=seed)


def train_compgan(images: torch.Tensor, expression: torch.Tensor, identity: torch.Tensor, view: torch.Tensor, *,
                  steps: int = 300, batch_size: int = 8, width: int = 8, label_maps: bool = True, residual: bool = True,
                  cls_steps: int = 200, cls_widths: tuple[int, ...] = (8, 16, 32, 16, 16),
                  cls_layers: tuple[int, ...] = (0, 1, 1, 1), lr: float = 2e-4, seed: int = 0,
                  device: str = "auto", run_dir: Any = None, progress: bool = False) -> CompGANModel:
    """Train F_cls, then G(Exp) + G(Pose) on the given faces (package docstring).

    Args:
        images: ``(N, C, S, S)`` in [-1, 1]; expression, identity, view: ``(N,)`` int64 codes from 0.
        steps, batch_size, width: Comp-GAN's updates, tuples per update and editor width.
        cls_steps: F_cls's SGD updates (batch 32).
        run_dir: a folder for both runs' checkpoints (``<run_dir>/F_cls``, ``<run_dir>/CompGAN``), or None.
    """
    if images.dim() != 4 or not (len(images) == len(expression) == len(identity) == len(view)):
        raise ValueError(f"train_compgan needs (N, C, S, S) images and (N,) labels of one length, got "
                         f"{tuple(images.shape)}, {len(expression)}, {len(identity)}, {len(view)}")
    faces = TensorFaces({"image": images.float().cpu(), "expression": torch.as_tensor(expression).long(),
                         "identity": torch.as_tensor(identity).long(), "view": torch.as_tensor(view).long()})
    K, V, N_id = (int(faces.data[k].max()) + 1 for k in ("expression", "view", "identity"))
    runtime.seed_everything(seed)
    fcfg = FclsConfig(n_expressions=K, n_poses=V, n_identities=N_id, channels=images.shape[1],
                      input_size=images.shape[-1], widths=tuple(cls_widths), layers=tuple(cls_layers),
                      feature_dim=64, dropout=0.2, batch_norm=True)
    cls = FclsTraining(F_cls(fcfg), probe_heads=("pose", "identity"), lr=0.01, lr_step=max(1, 6 * len(faces) // 32))
    sub = (lambda name: None) if run_dir is None else (lambda name: f"{run_dir}/{name}")  # noqa: E731
    fit(cls, faces, steps=cls_steps, batch_size=32, seed=seed, device=device, run_dir=sub("F_cls"), progress=progress)
    cls.nets.eval()
    cfg = CompGANConfig(image_size=images.shape[-1], channels=images.shape[1], width=width, n_expressions=K, n_poses=V,
                        label_maps=label_maps, residual=residual)
    gan = CompGAN(cfg, cls.net, lam=LAMBDA, mu=MU, lr=lr)
    res = fit(gan, Quadruples(faces, seed=seed), steps=steps, batch_size=batch_size, seed=seed, device=device,
              run_dir=sub("CompGAN"), progress=progress)
    nets = {k: gan.nets[k].cpu().eval() for k in ("G_Pose", "G_Exp", "F_cls")}
    return CompGANModel(nets["G_Pose"], nets["G_Exp"], nets["F_cls"], faces, cfg, dict(res.metrics))
