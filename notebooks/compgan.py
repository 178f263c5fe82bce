# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Comp-GAN: composing new poses and expressions for few-shot fine-grained FER
#
# The second F2ED paper (Wang et al., "Compositional GAN for few-shot fine-grained facial
# expression recognition", {cite:t}`wang2020compgan`) asks what happens when a recogniser must
# learn a fine-grained expression, a person or a camera view from **one to five examples**.
# It defines six learning tasks on F2ED and answers with a generator that *composes* faces:
#
# 1. **G(Exp)** takes a source face and a *reference* face and returns the source person
#    with the reference's expression; **G(Pose)** does the same for the pose.
# 2. **Algorithm 1** chains the two generators in two branches of four steps (pose first,
#    expression first) and edits back to the source, so that most of its eight outputs have
#    a real face to be compared with; the two branches must meet (a closed loop).
# 3. The generated faces of the **novel** classes join the training set of a LightCNN-29 v2
#    recogniser; pose-normalised copies of every face give it extra features ("Ours").
#
# This chapter builds both generators, the discriminator, the classifier and every loss of
# the paper, runs the six tasks on the synthetic fine-grained world, compares Comp-GAN's
# faces with two single-generator competitors, and checks each headline claim.

# %% tags=["parameters"]
import os

profile = os.environ.get("FER_PROFILE", "small")  # smoke | small | paper
seed = 0
data_root = None  # F2ED-style folders (<identity>/<view>/<expression>/...); None: synthetic
dataset = "synthetic"  # or "f2ed"; recognised from data_root if left
device = "auto"

# %%
import matplotlib.pyplot as plt
import seaborn as sns
import torch
from IPython.display import Markdown, display

from fer_core import metrics, runtime, viz
from fer_core.experiments import tables
from fer_core.methods import compgan
from fer_core.methods.compgan import report
from fer_core.methods.compgan.experiments import GAN, CompGANStudy, ablation_name
from fer_core.nets.tables import layer_table
from fer_core.profiles import get_profile
from fer_core.viz import show_source

P = get_profile("compgan", profile)
runtime.start_chapter(P, seed=seed, device=device)

# %% [markdown]
# ## Symbols
#
# | paper | meaning | code |
# |---|---|---|
# | $(i_t, p_s, e_s)$ | the source face: target identity, source pose and expression | `batch["image"]` |
# | $(i_r, p, e)$ | a reference face of another identity $i_r$ | `batch["r_pt_es"]` ... |
# | $F_P$ = G(Pose), $F_E$ = G(Exp) | the two editors | `G_Pose`, `G_Exp` |
# | $(i_t, p_t, e_t)^a$, $^b$ | an output of branch $a$ (pose first) or $b$ | tags `"(it,pt,et)a"` |
# | $F_{cls}$, $F^i_{cls}$ | LightCNN-29 v2 with three heads, its $i$-th feature map | `F_cls`, `F_cls.feature_maps` |
# | $D$ | the AttGAN-style discriminator | `D` |
# | $\lambda_\cdot$, $\mu_\cdot$ | the weights of $L_{G(Pose)}$ and $L_{G(Exp)}$ | `LAMBDA`, `MU` |
# | $\gamma_1, \gamma_2$ | L1 and perceptual weights | `GAMMA` |

# %% [markdown]
# ## Data and the six tasks (Section 4.1)
#
# With no `data_root`, the book's F2ED-like synthetic world: every person shows every
# fine-grained expression in the four F2ED views. The tasks are cut as the paper defines them
# (`fer_core.data.f2ed_tasks`): **ER-SS** a standard 80/20 split; **ER-FID / ER-ZID** 20% of
# the people are novel, with 1 (or more) / no training faces; **ER-FP / ER-ZP** the left view
# is novel; **ER-FE** 20% of the expressions are novel. The test set holds 20% of every
# class of the task's attribute. Each few-shot task is also run with more shots on the same
# episode (its training set grows by real faces only).

# %%
data = CompGANStudy.build_data(P, dataset=dataset, data_root=data_root, seed=seed)
exp = CompGANStudy(P, data, seed=seed, device=device)
print(data.name)
report.task_sizes(exp)

# %% [markdown]
# ## The networks
#
# The paper names an encoder–decoder for both generators and AttGAN's discriminator, without
# layer tables. Our editors take the source and the reference as one tensor (and, in the CPU
# profiles, the target label as one-hot maps; see the deviations). The table is printed from
# the networks this profile builds:

# %%
cfg = exp.gan_config
x0 = torch.zeros(2, cfg.channels, cfg.image_size, cfg.image_size)
G0 = compgan.G_Exp(cfg)
lab0 = (torch.zeros(2, dtype=torch.long),) if cfg.label_maps else ()
display(layer_table(G0, x0, x0, lab0))
D0 = compgan.D(cfg)
print("G_Exp(I, I_ref):", tuple(G0(x0, x0, lab0).shape),
      " D(I):", {k: tuple(v.shape) for k, v in D0(x0).items()})

# %% [markdown]
# $F_{cls}$ is LightCNN-29 v2 (`fer_core.nets.lightcnn`, shared with the FaPE-GAN chapter)
# with an expression, a pose and an identity head; the recogniser "L." of the tables is the
# same network trained on expressions only.

# %%
F0 = compgan.F_cls(exp.fcls_config()).eval()
print(exp.fcls_config())
print({k: tuple(v.shape) for k, v in F0(x0).items()},
      "maps:", [tuple(m.shape) for m in F0.feature_maps(x0)])

# %% [markdown]
# ## Algorithm 1: two branches, four steps, two generators
#
# Steps 1–2 reach the target pose and expression in both orders; steps 3–4 edit back, so
# the last four outputs are faces the data holds. Only `F_P` and `F_E` are ever called:

# %%
show_source(compgan.algorithm1)

# %% [markdown]
# ## The losses (Eqs. 1–13)
#
# $F_{cls}$ must read the right expression, pose and identity in each of the eight images:
#
# $$L_{exp} = \sum_{k\in\{a,b\}} \sum_{(p,e)} \Phi\big(F_{cls}((i_t,p,e)^k), e\big) \tag{1}$$
#
# and likewise $L_{pose}$ (Eq. 2) with the pose and $L_{id}$ (Eq. 3) with $i_t$:

# %%
show_source(compgan.L_exp)

# %% [markdown]
# The first two steps' outputs are compared with the real faces of $i_t$, in pixels and in
# $F_{cls}$'s feature maps:
#
# $$L_{con} = \gamma_1 \sum \|(i_t,p,e)^k - (i_t,p,e)\|_1
#   + \gamma_2 \sum_{i=1}^{4} \sum \|F^i_{cls}((i_t,p,e)^k) - F^i_{cls}((i_t,p,e))\|_1 \tag{6}$$
#
# $L_{recon}$ (Eqs. 7–9) does the same for steps 3–4. The closed loop ties the branches:
#
# $$L_{loop} = \|(i_t,p_t,e_s)^a - (i_t,p_t,e_s)^b\|_1 + \|(i_t,p_s,e_t)^a - (i_t,p_s,e_t)^b\|_1 \tag{10}$$

# %%
show_source(compgan.L_loop)

# %% [markdown]
# Each generator minimises its own weighting of the same terms,
#
# $$L_{G(Pose)} = \sum_k \lambda_k L_k, \qquad L_{G(Exp)} = \sum_k \mu_k L_k \tag{12–13}$$
#
# with $L_{adv}$ the GAN loss of Eq. (11). One step therefore takes each generator's
# gradient of its own loss from one graph before either weight moves:

# %%
print("lambda:", compgan.LAMBDA, "\nmu:    ", compgan.MU)
show_source(compgan.CompGAN.step)

# %% [markdown]
# ## The augmentation step and the competitors
#
# Each recogniser trains on the real faces plus `n_per_class` generated faces per novel class
# (every class where the training set holds no novel one). An augmenter changes only what it
# can: G(Pose) reaches a novel expression by re-posing its shots, G(Exp) a novel view by
# re-expressing its shots; the composition and the competitors change both. The
# competitors are a pix2pix-style editor (one generator for pose and expression, the
# paper's "Generator P&A") and an AttGAN-style editor driven by labels only.

# %%
show_source(compgan.plan_augmentation)

# %% [markdown]
# ## Training every experiment
#
# Per episode: $F_{cls}$, Comp-GAN, the two competitors (and Comp-GAN without $L_{loop}$ on
# some tasks, a judge on ER-SS); per episode and seed: the recogniser with each augmenter's
# faces, the same number of faces and updates for each, and the book's plain CNN on ER-SS.
# The shared runner starts each experiment as soon as what it needs is done.

# %%
print(f"{len(exp.experiments)} experiments over {len(data.splits)} folds x "
      f"{len(exp.seeds)} seed(s)")
results = exp.run_all()
print(exp.wall_time_summary())

# %% [markdown]
# ## Before any claim: a recogniser worth comparing, editors that work
#
# **The recogniser**: L. without augmentation against the book's plain CNN on ER-SS.
# **The generators**: an **independent judge**, networks trained on the episode's real
# training faces only (never $F_{cls}$, which the generators were trained against), reads
# G(Exp)'s and G(Pose)'s edits of test faces: the target expression, resp. view, must be
# read in at least 70% of them, the identity must still verify, and the edited face must be
# closer to the true face (the world renders the same person and scene with the target
# attribute) than a copy of the input.

# %%
exp.gates()

# %%
exp.judge_table().set_index(["task", "generator", "edit"]).style.format("{:.3f}")

# %% [markdown]
# ## Generated faces (Fig. 11, Algorithm 1's layout)
#
# Test faces of ER-SS, the reference carrying the target attribute, the edit, and the true face:

# %%
r = exp.result(GAN, exp.fold_of("ER-SS"))
for kind in ("G(Exp)", "G(Pose)", "G(Pose)+G(Exp)"):
    ex = r[kind]["examples"]
    cols = ["source", "reference", kind, "true face"][: ex.shape[1]]
    display(viz.image_grid(ex.flatten(0, 1), nrow=ex.shape[1], col_labels=cols, title=kind))

# %% [markdown]
# Algorithm 1 on test faces: the four references of one other person, then the eight
# outputs, in the order of the steps (branch *a* above, *b* below in the paper's figure):

# %%
a1 = r["algorithm1"]
if a1:
    imgs = torch.stack([a1["source"], *a1["references"].values(), *a1["fakes"].values()], 1)
    viz.image_grid(imgs.flatten(0, 1), nrow=imgs.shape[1],
                   col_labels=["(it,ps,es)", *a1["references"], *a1["fakes"]], scale=1.3,
                   title="Algorithm 1: source, references, the eight generated faces")

# %% [markdown]
# ## Loss ablations (Fig. 16)
#
# Comp-GAN trained without one loss term at a time, on the first ER-SS episode (when the
# profile runs them), composing the same test faces:

# %%
abl = list(P.ablations)
if abl:
    composed = lambda name: exp.result(name, exp.ablation_fold)["G(Pose)+G(Exp)"]["examples"][:, 2]
    rows = [composed(GAN)] + [composed(ablation_name(t)) for t in abl]
    viz.image_grid(torch.cat(rows), nrow=len(rows[0]),
                   row_labels=["all losses", *(f"w.o. {t}" for t in abl)],
                   title="composed edits without each loss")
else:
    print("this profile runs no loss ablation (P.ablations is empty)")

# %% [markdown]
# ## Recognition with each augmenter (Tables 4 and 5)
#
# Accuracy (%) on each task's test faces, mean ± std over episodes and seeds; chance is
# 1 / (number of classes). The paper's column is the mean of its six tasks on F2ED's 54 classes.

# %%
print(f"chance: {100 / exp.K:.1f}%")
exp.table4()

# %%
exp.table5()

# %%
v = exp.values()
main = v[v.variant.isin(exp.table4().index) & v.task.isin(P.tasks)]
fig, ax = plt.subplots(figsize=(10, 3.5))
sns.barplot(data=main, x="task", y="accuracy", hue="variant", palette="colorblind",
            errorbar="sd", ax=ax)
ax.axhline(1 / exp.K, ls="--", c="grey", lw=1)
ax.set_ylabel("test accuracy"); ax.set_xlabel("task"); ax.legend(fontsize=7, ncol=4)
ax.set_title("Table 4 analog: the recogniser with each augmenter's faces")
plt.close(fig)
fig

# %% [markdown]
# ## More shots (Table 6) and the five metrics of ER-FE (Table 7)
#
# With $Y_j$ the true classes of example $j$ and $f(x_j)$ the predicted ones,
#
# $$mA = \frac{1}{2M}\sum_{i=1}^{M}\Big(\frac{TP_i}{P_i} + \frac{TN_i}{N_i}\Big), \qquad
#   acc = \frac{1}{N}\sum_{j}\frac{|Y_j \cap f(x_j)|}{|Y_j \cup f(x_j)|} \tag{14–15}$$
#
# precision and recall divide by $|f(x_j)|$ and $|Y_j|$ (Eqs. 16–17), and
# $F1 = 2\,prec\,rec / (prec + rec)$ (Eq. 18):

# %%
show_source(metrics.attribute_metrics)

# %%
exp.table6()

# %%
exp.table7()

# %% [markdown]
# The number of synthesized faces per novel class (Sec. 5.4), ER-FE at the most shots:

# %%
cv = exp.curve()
if len(cv) > 1:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.errorbar(cv.n, cv.accuracy, yerr=cv["std"], marker="o", capsize=3, label="this run")
    ax.set_xscale("symlog"); ax.set_ylabel("accuracy")
    ax.set_xlabel("generated faces per novel class")
    ax.set_title("ER-FE: accuracy vs synthesized faces"); ax.legend()
    plt.close(fig)
    display(fig)
cv

# %% [markdown]
# ## Do generated faces keep their attributes? (Figs. 13–15)
#
# The independent judge on each generator's edits of ER-SS test faces: the share read as
# the target expression (Fig. 13) or view (Fig. 14), and the identity cosine between source
# and edit in the judge's identity features (Fig. 15):

# %%
pres = exp.preservation()
g = sns.catplot(data=pres, x="class", y="value", hue="generator", col="attribute", kind="bar",
                palette="colorblind", sharex=False, height=3, aspect=1.5)
g.set_xticklabels(rotation=60, fontsize=7); g.set_ylabels("judge's reading")
plt.close(g.figure)
g.figure

# %% [markdown]
# ## Identity features of originals and edits (Fig. 18)

# %%
feats, ids, kinds, gen = exp.embedding()
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, kind in zip(axes, ("G(Pose)", "G(Exp)")):
    m = kinds == kind
    viz.embedding_scatter(feats[m], ids[m], style=gen[m].astype(int),
                          style_names=["original", "generated"], ax=ax, hue_title="identity",
                          title=f"{kind}: judge identity features (t-SNE)", style_title="face")
plt.close(fig)
fig

# %% [markdown]
# ## Paper reports / this run
#
# Different data, classes, resolution and budget (see the deviations): read it as "same
# direction?", not "same value?".

# %%
exp.paper_comparison()

# %% [markdown]
# ## Claims ledger
#
# The recognition claims pair two variants over the same episodes and seeds, pooled over the
# six tasks. The two claims about faces pair two generators over the episodes that trained
# both: in each, both edit the same test faces towards the same targets with the same
# references, and the episode's mean is one replicate (its spread comes from training the
# generators, not from which faces were drawn). The closed-loop claim runs on `loop_tasks`,
# the identity claim on the judged episodes (`judge_tasks`); a profile with fewer than ten
# such episodes leaves them inconclusive by the book's rule, however large the effect.

# %%
ledger, per_episode = exp.ledger()
ledger

# %%
tables.replicate_values(per_episode)

# %% [markdown]
# ## Deviations from the paper
#
# Where the book departs from Sections 4-5 and Algorithm 1 (F2ED itself is not public, so
# the data is the first):

# %%
report.deviations(exp)

# %% [markdown]
# ## What matched, what did not
#
# The editors' gates, then the recognition, face and few-shot claims, each computed from
# this run's numbers:

# %%
display(Markdown(report.closing_notes(exp, ledger)))

# %% [markdown]
# ## Where the time went
#
# Per experiment: the generators once per episode, the recognisers once per episode and seed.

# %%
exp.wall_time_table()
