"""One home for evaluating networks on data: predictions, accuracy, per-class recall, confusion,
features, face verification and Fréchet distances.

Every function takes a network (or any function of an image batch) and data in any of the
forms the book uses: an ``(N, C, H, W)`` image tensor, a
:class:`~fer_core.data.memory.MemoryCachedDataset` (batches come already collated, on its
device) or a map-style dataset of dict items. Networks run in eval mode without gradients
and are put back as they were; results come back on the CPU.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from fer_core import metrics, runtime
from fer_core.nets.modes import as_judge

__all__ = ["eval_mode", "module_device", "batches", "apply", "predict", "classify", "features", "verification",
           "frechet", "nearest_distance", "linear_probe"]


@contextlib.contextmanager
def eval_mode(*modules: nn.Module | None) -> Iterator[None]:
    """Eval mode and no gradients inside the block; each module's train/eval state restored after
    (:func:`~fer_core.nets.modes.as_judge` without gradients)."""
    with as_judge(*modules), torch.no_grad():
        yield


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (or buffer); CPU for a module without either."""
    for t in (*module.parameters(), *module.buffers()):
        return t.device
    return torch.device("cpu")


def batches(data: Dataset | torch.Tensor, batch_size: int = 256) -> Iterator[dict[str, Any]]:
    """Dict batches of ``data`` in order (``{"image": ...}`` for a bare image tensor)."""
    if isinstance(data, torch.Tensor):
        for i in range(0, len(data), batch_size):
            yield {"image": data[i:i + batch_size]}
        return
    if getattr(data, "is_device_resident", False):  # MemoryCachedDataset: already collated tensors
        for i in range(0, len(data), batch_size):
            yield data.__getitems__(list(range(i, min(i + batch_size, len(data)))))
        return
    yield from DataLoader(data, batch_size=batch_size, shuffle=False)


def apply(fn: Callable[[torch.Tensor], torch.Tensor], data: Dataset | torch.Tensor, *, modules: tuple = (),
          batch_size: int = 256, device: str | torch.device | None = None, key: str = "image") -> torch.Tensor:
    """``fn`` over ``data[key]`` in batches, concatenated on the CPU (float32).

    Args:
        modules: the networks ``fn`` uses; they run in eval mode (restored afterwards), and
            their device is where batches go unless ``device`` is given.
    """
    dev = runtime.pick_device(device) if device is not None else (
        module_device(modules[0]) if modules else torch.device("cpu"))
    out = []
    with eval_mode(*modules):
        for batch in batches(data, batch_size):
            with runtime.autocast(dev):
                out.append(fn(batch[key].to(dev)).float().cpu())
    if not out:
        raise ValueError("no data to evaluate: the dataset is empty")
    return torch.cat(out)


def _labels(data: Dataset | torch.Tensor, target: str, batch_size: int) -> torch.Tensor:
    if getattr(data, "is_device_resident", False):
        return data.data[target].cpu()
    return torch.cat([torch.as_tensor(b[target]).cpu() for b in batches(data, batch_size)])


def predict(net: nn.Module, data: Dataset, *, batch_size: int = 256, device: str | torch.device | None = None,
            target: str = "expression") -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(N, K)`` of ``net`` on ``data`` and the labels ``(N,)`` of column ``target``, on the CPU."""
    if device is not None:
        net.to(runtime.pick_device(device))
    return apply(net, data, modules=(net,), batch_size=batch_size), _labels(data, target, batch_size)


def classify(net: nn.Module, data: Dataset, *, num_classes: int | None = None, batch_size: int = 256,
             target: str = "expression") -> dict[str, Any]:
    """How well ``net`` classifies ``data``: ``accuracy`` (float), ``per_class_recall`` ``(K,)``,
    ``confusion`` ``(K, K)`` counts (rows true), ``y_true``/``y_pred`` ``(N,)`` int64."""
    logits, y = predict(net, data, batch_size=batch_size, target=target)
    k = num_classes or logits.shape[1]
    pred = logits.argmax(1)
    cm = metrics.confusion_matrix(pred, y, k)
    support = cm.sum(1).clamp(min=1)
    return {"accuracy": float((pred == y).double().mean()), "per_class_recall": cm.diagonal().float() / support,
            "confusion": cm, "y_true": y.long(), "y_pred": pred.long()}


def features(fn: Callable[[torch.Tensor], torch.Tensor] | nn.Module, data: Dataset | torch.Tensor, *,
             modules: tuple = (), batch_size: int = 256) -> torch.Tensor:
    """Features ``(N, D)`` of ``data`` under ``fn`` (a network's ``features``/``R_ext``, or the network)."""
    if isinstance(fn, nn.Module) and not modules:
        modules = (fn,)
    return apply(fn, data, modules=modules, batch_size=batch_size).flatten(1)


def verification(embed: Callable[[torch.Tensor], torch.Tensor], anchors: torch.Tensor, genuine: torch.Tensor,
                 impostors: torch.Tensor, *, far: float = 0.01, modules: tuple = (), batch_size: int = 256) -> float:
    """Face verification: the true-accept rate at a false-accept rate of ``far``.

    ``anchors[i]`` is paired with ``genuine[i]`` (the same person, e.g. a face synthesized from
    it) and with ``impostors[i]`` (another person); pairs are compared by the cosine
    similarity of ``embed`` features (see :func:`fer_core.metrics.verification_rate`).
    """
    if not len(anchors) == len(genuine) == len(impostors):
        raise ValueError(f"need as many genuine and impostor faces as anchors, got {len(anchors)}, "
                         f"{len(genuine)}, {len(impostors)}")
    a = features(embed, anchors, modules=modules, batch_size=batch_size)
    g = features(embed, genuine, modules=modules, batch_size=batch_size)
    i = features(embed, impostors, modules=modules, batch_size=batch_size)
    same = torch.cat([torch.ones(len(a), dtype=torch.bool), torch.zeros(len(a), dtype=torch.bool)])
    return metrics.verification_rate(torch.cat([a, a]), torch.cat([g, i]), same, far=far)


def frechet(embed: Callable[[torch.Tensor], torch.Tensor], real: Dataset | torch.Tensor,
            fake: Dataset | torch.Tensor, *, modules: tuple = (), batch_size: int = 256) -> float:
    """Fréchet distance between Gaussians fitted to ``embed`` features of two image sets (an FID
    on a feature network of the book's own; see :func:`fer_core.metrics.frechet_distance`)."""
    return metrics.frechet_distance(features(embed, real, modules=modules, batch_size=batch_size),
                                    features(embed, fake, modules=modules, batch_size=batch_size))


def nearest_distance(queries: torch.Tensor, references: torch.Tensor) -> np.ndarray:
    """Per query feature, the cosine distance (1 - cosine similarity) to its nearest reference feature."""
    q = torch.nn.functional.normalize(queries.float().flatten(1), dim=1)
    r = torch.nn.functional.normalize(references.float().flatten(1), dim=1)
    return (1 - (q @ r.T).max(dim=1).values).numpy()



def linear_probe(train_features: torch.Tensor, labels: torch.Tensor, num_classes: int, *, steps: int = 300,
                 lr: float = 0.05, weight_decay: float = 1e-4, seed: int = 0) -> Callable[[torch.Tensor], torch.Tensor]:
    """A softmax classifier fitted on fixed features (full-batch Adam on standardised features).

    Args:
        train_features: ``(N, D)``; labels: ``(N,)`` int64 in ``0..num_classes-1``.

    Returns:
        ``predict(features (M, D)) -> (M, num_classes)`` logits (CPU).
    """
    x = train_features.detach().float().cpu()
    y = labels.detach().long().cpu()
    if x.dim() != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"linear_probe needs (N, D) features and (N,) labels, got {tuple(x.shape)} and {tuple(y.shape)}")
    mu, sd = x.mean(0), x.std(0).clamp(min=1e-6)
    g = torch.Generator().manual_seed(seed)
    head = nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():
        head.weight.normal_(0, 0.01, generator=g)
        head.bias.zero_()
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    z = (x - mu) / sd
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(head(z), y).backward()
            opt.step()
    head.eval()

    def predict(features: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return head((features.detach().float().cpu() - mu) / sd)

    return predict
