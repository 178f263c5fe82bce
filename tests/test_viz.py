"""Figures build under Agg with no display; the slider is a self-contained HTML snippet."""

from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from fer_core import viz  # noqa: E402


@pytest.fixture(autouse=True)
def no_display(monkeypatch):
    def _no_show(*args, **kwargs):
        raise AssertionError("viz must never call plt.show()")

    monkeypatch.setattr(plt, "show", _no_show)
    before = set(plt.get_fignums())
    yield
    leaked = set(plt.get_fignums()) - before
    plt.close("all")
    assert not leaked, "viz figures must be detached from pyplot (no pile-up in long runs)"


def _render(fig: Figure) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def _faces(n: int, size: int = 16, channels: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, size, size, generator=g) * 2 - 1


def test_image_grid_returns_labelled_figure():
    fig = viz.image_grid(_faces(6), nrow=3, row_labels=["input", "output"], col_labels=["a", "b", "c"], title="grid")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["input", "output"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_title() == "grid"
    _render(fig)


def test_image_grid_value_range_zero_one_matches_minus_one_one():
    x = _faces(4, channels=1)
    a = viz.image_grid(x, nrow=2).axes[0].images[0].get_array()
    b = viz.image_grid((x + 1) / 2, nrow=2, value_range=(0, 1)).axes[0].images[0].get_array()
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_image_grid_rejects_wrong_label_count_and_shape():
    with pytest.raises(ValueError, match="row_labels for 2 rows"):
        viz.image_grid(_faces(6), nrow=3, row_labels=["only one"])
    with pytest.raises(ValueError, match="4 dimensions"):
        viz.image_grid(_faces(1)[0], nrow=1)


def test_confusion_matrix_plot_normalises_rows_and_annotates():
    cm = torch.tensor([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    fig = viz.confusion_matrix_plot(cm, ["happy", "sad", "surprise"], title="BASELINE")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["0.75", "0.25", "0.00", "0.00", "0.00", "0.00", "0.25", "0.25", "0.50"]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    _render(fig)
    counts = viz.confusion_matrix_plot(cm, ["happy", "sad", "surprise"], normalize=False)
    assert [t.get_text() for t in counts.axes[0].texts][:2] == ["3", "1"]
    with pytest.raises(ValueError, match="2 class_names"):
        viz.confusion_matrix_plot(cm, ["a", "b"])


def _clusters(n: int = 60, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    feats = torch.randn(n, 16, generator=g) + 4.0 * torch.nn.functional.one_hot(labels, 16).float()
    return feats, labels


def test_embedding_scatter_tsne_is_deterministic_and_marks_styles():
    feats, labels = _clusters()
    style = torch.arange(60) // 30
    fig1 = viz.embedding_scatter(feats, labels, class_names=["anger", "happy", "sad"], style=style,
                                 style_names=["real", "synthetic"], seed=3, title="JL")
    fig2 = viz.embedding_scatter(feats, labels, seed=3)
    assert fig1.embedding.shape == (60, 2)
    np.testing.assert_array_equal(fig1.embedding, fig2.embedding)
    legend = [t.get_text() for t in fig1.axes[0].get_legend().get_texts()]
    assert {"anger", "happy", "sad", "real", "synthetic"} <= set(legend)
    assert fig1.axes[0].get_xlabel() == "t-SNE 1"
    _render(fig1)


def test_embedding_scatter_reuses_embedding_in_given_axes():
    feats, labels = _clusters()
    emb = viz.embed_2d(feats, seed=0)
    fig = plt.figure()
    plt.close(fig)
    left, right = fig.subplots(1, 2)
    out = viz.embedding_scatter(None, labels, embedding=emb, ax=left, title="JL-IL")
    viz.embedding_scatter(None, labels, embedding=emb, ax=right, title="JL")
    assert out is fig and len(fig.axes) == 2
    np.testing.assert_array_equal(out.embedding, emb)
    with pytest.raises(ValueError, match="'tsne' or 'umap'"):
        viz.embed_2d(feats, method="pca")


def test_confusion_matrices_side_by_side_share_the_classes():
    cms = {"A": np.array([[3, 1], [0, 4]]), "B": np.array([[2, 2], [1, 3]])}
    fig = viz.confusion_matrices(cms, ["happy", "sad"])
    heat = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in heat] == ["A", "B"]
    assert [t.get_text() for t in heat[1].get_xticklabels()] == ["happy", "sad"]
    assert heat[0].texts[0].get_text() == "0.75"  # row-normalised: 3 of 4 happy faces read as happy
    _render(fig)


def test_embedding_grid_draws_a_panel_per_feature_set_and_method():
    feats, labels = _clusters()
    yaw = (torch.arange(60) % 3).float() * 15 - 15  # -15, 0, 15 degrees
    panels = {"Ours": {"features": feats, "labels": labels, "pose": yaw},
              "No_ExpR": {"features": feats, "labels": labels, "pose": None}}
    fig = viz.embedding_grid(panels, class_names=["anger", "happy", "sad"], style="pose", seed=1,
                             style_names=lambda g: {int(p): f"{int(p)} deg" for p in g.unique()},
                             hue_title="expression", style_title="yaw")
    assert [ax.get_title() for ax in fig.axes] == ["Ours (TSNE)", "No_ExpR (TSNE)"]
    with_pose = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    without = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert {"-15 deg", "0 deg", "15 deg", "yaw"} <= set(with_pose) and "yaw" not in without
    np.testing.assert_array_equal(  # the same features and seed draw the same points in both panels
        fig.axes[0].collections[0].get_offsets(), fig.axes[1].collections[0].get_offsets())
    _render(fig)


@pytest.mark.slow  # numba compiles UMAP on its first call in a process (~10 s on 2 cores)
def test_embedding_scatter_umap_is_deterministic():
    feats, labels = _clusters()
    kw = dict(method="umap", seed=0, n_neighbors=5)
    a = viz.embedding_scatter(feats, labels, **kw).embedding
    b = viz.embedding_scatter(feats, labels, **kw).embedding
    assert a.shape == (60, 2) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)


def test_heatmap_overlay_one_panel_per_face():
    fig = viz.heatmap_overlay(_faces(3, size=24), torch.rand(3, 1, 6, 6), titles=["a", "b", "c"], alpha=0.4)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == ["a", "b", "c"]
    overlay = titled[0].images[1]
    assert overlay.get_array().shape == (24, 24) and overlay.get_alpha() == 0.4
    values = np.asarray(overlay.get_array())
    assert values.min() == pytest.approx(0.0) and values.max() == pytest.approx(1.0)
    _render(fig)
    with pytest.raises(ValueError, match="N=3"):
        viz.heatmap_overlay(_faces(3), torch.rand(2, 6, 6))


def test_loss_curves_reads_the_training_loop_log(tmp_path):
    from fer_core.train import fit
    from tests._toys import BlobDataset, ToyClassifier

    fit(ToyClassifier(), BlobDataset(), steps=6, batch_size=8, run_dir=tmp_path, seed=0, progress=False)
    fig = viz.loss_curves(tmp_path, smooth=3, title="toy")
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    keys = [k for k in rows[0] if k != "step"]
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == keys
    assert all(ax.get_xlabel() == "step" for ax in fig.axes if ax.get_ylabel())
    _render(fig)


def test_loss_curves_from_rows_and_errors(tmp_path):
    rows = [{"step": s, "loss_D": 1 / s, "loss_G": float(s)} for s in range(1, 20)]
    fig = viz.loss_curves(rows, keys=["loss_G"], logy=True)
    assert len([ax for ax in fig.axes if ax.get_ylabel()]) == 1
    with pytest.raises(ValueError, match="unknown keys"):
        viz.loss_curves(rows, keys=["loss_X"])
    with pytest.raises(ValueError, match="'step'"):
        viz.loss_curves([{"loss": 1.0}])
    with pytest.raises(FileNotFoundError, match="no training log"):
        viz.loss_curves(tmp_path / "missing")


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _parse(snippet: str) -> list[tuple[str, dict]]:
    p = _Tags()
    p.feed(snippet)
    return p.tags


def test_interpolation_slider_is_a_self_contained_snippet():
    frames = _faces(5, size=8).unsqueeze(1).repeat(1, 4, 1, 1, 1)  # (T=5, N=4, C, H, W)
    slider = viz.interpolation_slider(frames, labels=[f"u={v:.2f}" for v in np.linspace(0, 1, 5)], title="<intensity>")
    snippet = slider._repr_html_()
    tags = _parse(snippet)
    imgs = [a for t, a in tags if t == "img"]
    ranges = [a for t, a in tags if t == "input" and a.get("type") == "range"]
    assert len(imgs) == 5 and snippet.count("data:image/png;base64,") == 5
    assert len(ranges) == 1 and ranges[0]["min"] == "0" and ranges[0]["max"] == "4"
    assert "oninput" in ranges[0] and slider.element_id in ranges[0]["oninput"]
    assert [a["data-label"] for a in imgs] == ["u=0.00", "u=0.25", "u=0.50", "u=0.75", "u=1.00"]
    assert "<script src" not in snippet and "http" not in snippet
    assert "&lt;intensity&gt;" in snippet and "<intensity>" not in snippet
    first = Image.open(io.BytesIO(base64.b64decode(imgs[0]["src"].split(",", 1)[1])))
    assert first.size == (4 * 8 + 5 * 2, 8 + 2 * 2)  # one row of 4 faces with make_grid padding 2


def test_interpolation_slider_ids_are_unique_per_instance():
    frames = _faces(3, size=8)  # (T, C, H, W): one face per frame
    a, b = viz.interpolation_slider(frames), viz.interpolation_slider(frames)
    ids_a = [attrs["id"] for _, attrs in _parse(a._repr_html_()) if "id" in attrs]
    ids_b = [attrs["id"] for _, attrs in _parse(b._repr_html_()) if "id" in attrs]
    assert ids_a and len(set(ids_a)) == len(ids_a)
    assert not set(ids_a) & set(ids_b)
    assert len(a) == 3
    with pytest.raises(ValueError, match="2 labels for 3 frames"):
        viz.interpolation_slider(frames, labels=["a", "b"])


def test_live_slider_calls_render_fn_for_each_value():
    calls = []

    def render(v):
        calls.append(v)
        return _faces(2, size=8)

    box = viz.live_slider(render, [0.0, 0.5, 1.0], description="u")
    slider = box.children[0]
    assert calls == [0.0]
    slider.value = 1.0
    assert calls == [0.0, 1.0]
    assert type(box).__name__ == "VBox"


def test_landmark_overlay_returns_a_figure_and_checks_shapes():
    from fer_core.viz import landmark_overlay

    images = torch.zeros(2, 3, 32, 32)
    lm = torch.rand(2, 68, 2) * 32
    fig = landmark_overlay(images, lm, titles=["a", "b"])
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match=r"landmarks must have shape \(2, 68, 2\)"):
        landmark_overlay(images, lm[:, :60])


def test_book_tables_show_long_cells_whole():
    """Deviation and claim tables hold sentences; pandas' default would cut them to 50 characters."""
    import pandas as pd

    import fer_core.viz  # noqa: F401  (sets the display option on import)

    sentence = "a deviation explained in a sentence that is longer than fifty characters, kept whole"
    assert sentence in pd.DataFrame({"why": [sentence]})._repr_html_()
