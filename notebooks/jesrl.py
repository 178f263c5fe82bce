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
# # JESRL: swapping expression blocks to synthesize faces and to recognise them
#
# *Joint Expression Synthesis and Representation Learning for Facial Expression Recognition*
# (JESRL; Zhang, Zhang and Xu {cite}`zhang2021jesrl`) answers the shortage of labelled expression data with a GAN that
# needs **no paired faces**. Its generator encodes a face into a representation $R$ whose
# channels are cut into one **block per expression**. Given two faces of different people and
# different expressions, a **switch unit** exchanges the two expressions' blocks between their
# representations, and the decoder draws a *residual* that, added to each input, gives that
# person with the other's expression. Two discriminators at two scales judge the results,
# conditioned on the expression.
#
# The same representation is **discriminative**: a classifier $C$ concatenates it with VGG-19
# features, and learns from real and generated faces, end to end with the GAN. The paper adds a
# **representation interpolation** loss (the block exchange itself comes from ELEGANT
# {cite}`xiao2018elegant`): half-swapped blocks must still decode to faces the
# discriminators accept. This chapter builds every network and loss of Section III, runs the
# ablations of Table VII and the authors' public code's variant on subject-independent folds, and
# decides each headline claim with paired replicates.

# %% tags=["parameters"]
import os

profile = os.environ.get("FER_PROFILE", "small")  # smoke | small | paper
seed = 0
data_root = None  # a real dataset folder (Multi-PIE, MMI, RAF-DB); None: the synthetic world
device = "auto"
# dataset: a registry name ("multipie", "mmi", "rafdb"); recognised from data_root if left
dataset = "synthetic"
# backbone_weights: torchvision VGG-19 ImageNet weights (vgg19-dcbb9e9d.pth); None: trained here
backbone_weights = None
# inception_weights: Inception-v3 weights for the paper's FID (torch-fidelity); None: offline FID
inception_weights = None
live = False  # True in a live Jupyter kernel: adds a slider that runs the generator

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from IPython.display import Markdown, display

from fer_core import runtime, viz
from fer_core.experiments import tables
from fer_core.methods import jesrl
from fer_core.methods.jesrl import report
from fer_core.methods.jesrl.experiments import JESRLStudy
from fer_core.profiles import get_profile
from fer_core.viz import show_source

P = get_profile("jesrl", profile)
runtime.start_chapter(P, seed=seed, device=device)

# %% [markdown]
# ## Symbols
#
# | paper | meaning | code |
# |---|---|---|
# | $I_a$, $I_b$; $y^i$, $y^j$ | two unpaired faces of different expressions ($i \ne j$) | `I_a`, `I_b`, `i`, `j` |
# | $G_{enc}$, $R_a = [r_a^1..r_a^n]$ | encoder and its representation, $n$ channel blocks (Eq. 2) | `G.G_enc`, `R_a` |
# | $R_c$, $R_d$ | blocks $i$, $j$ exchanged (Eq. 3) | `switch(R_a, R_b, i, j, bounds)` |
# | $S$ | binary switch code (1 at $i$, $j$; 0 for reconstructions) | `switch_code` |
# | $G_{dec}$, $I^{res}$ | decoder and its residual image (Eq. 4) | `G.G_dec`, `G.decode` |
# | $I_c$, $I_d$, $I'_a$, $I'_b$ | transfers and reconstructions (Eq. 4) | `faces["I_c"]` ... |
# | $D_1$, $D_2$ | discriminators at $S$ and $S/2$, conditioned on $y$ (Eq. 5) | `MultiScaleD` |
# | $R_c^p$, $p$ | interpolated representation (Eq. 6), $p = 0.5$ | `interpolate`, `JESRLConfig.p` |
# | $L_{inter}$ | interpolation loss (Eq. 7) | `inter_loss_G`, `inter_loss_D` |
# | $C = FC([VGG(I), G_{enc}(I)])$ | classifier (Eq. 8) | `C(x, R)` |
# | $L_r$, $L_p$, $L_{per}$, TV | reconstruction, pixel sum, perceptual, total variation (Eqs. 9-11) | `recon_loss` ... |
# | $F^{(i)}$ | layers of a VGG feature network (Eq. 11) | `PerceptualNet` |
# | $\lambda_1..\lambda_4$ | weights of Eq. 12; the paper's 10, 15, 5, 5 | `JESRLConfig.lambdas` |

# %% [markdown]
# ## Data and protocol
#
# The paper's Multi-PIE protocol: 270 subjects at five yaws (−30° to +30°), six classes
# (disgust, scream, smile, squint, surprise, neutral) {cite}`gross2010multipie`, five-fold subject-independent
# cross-validation. Without a `data_root` the chapter uses the book's Multi-PIE-like synthetic
# world: the same classes and yaws, fewer people. One subject of the first fold's test set:

# %%
data = JESRLStudy.build_data(P, dataset=dataset, data_root=data_root, seed=seed)
exp = JESRLStudy(P, data, seed=seed, device=device, backbone_weights=backbone_weights,
                 inception_weights=inception_weights)
print(data.name)
data.sizes().T

# %%
test0 = data.fold(0, exp.device)["test"]
meta0 = test0.meta.reset_index(drop=True)
order = ["expression", "yaw"] if "yaw" in meta0 else ["expression"]
one = meta0[meta0.subject == meta0.subject.iloc[0]].sort_values(order)
nrow = one.yaw.nunique() if "yaw" in one else 1
viz.image_grid(test0.data["image"][torch.tensor(one.index.tolist())].cpu(), nrow=nrow,
               row_labels=[data.classes[int(e)] for e in one.expression.unique()],
               title="one test subject: each expression (rows) at each pose (columns)", scale=0.8)

# %% [markdown]
# ## Architecture (Table I)
#
# $G_{enc}$: five `Conv(d, 3, 2), l2-N, LReLU`; $G_{dec}$: `Concat(512 + 512 + 20n)` and five
# transposed convolutions ending in Tanh; $D_1$, $D_2$: four `Conv, l2-N, LReLU` and `FC(1)`. Five
# stride-2 stages take a 256 px face to an 8×8 $R$, the size of VGG-19's last map, which is what
# lets $C$ concatenate the two. The table is printed from the networks this profile builds; the
# `spec` column is each layer's Table I entry.

# %%
gan = exp.gan_config
jesrl.gan_layer_table(gan)

# %%
paper_gan = jesrl.SwitchGANConfig.at(256, num_classes=exp.K)
pd.DataFrame({"Table I at 256 px (the paper: 14M in all)": jesrl.gan_param_counts(paper_gan),
              f"this profile ({P.size} px)": jesrl.gan_param_counts(gan)})

# %% [markdown]
# The classifier $C$ (Table I, right column), with the channels of $R$ concatenated to VGG-19's
# last map:

# %%
C0 = jesrl.C(exp.clf_config, expr_channels=gan.rep_channels)
display(jesrl.classifier_layer_table(C0))
print(f"C: {sum(p.numel() for p in C0.parameters()):,} parameters (the paper: 140.1M with ImageNet "
      "VGG-19 and FC(4096) x 2)")

# %% [markdown]
# **l2-N** is cited from ELEGANT without a definition; the book uses the authors' code's: each
# pixel's channel vector scaled to unit length, then one learnable scalar scale and shift.

# %%
show_source(jesrl.L2Norm.forward)

# %% [markdown]
# ## The switch unit (Eqs. 2-3)
#
# $R$ is cut along channels into $n$ blocks, block $k$ reserved for expression $k$. For a pair of
# expressions $(i, j)$ the unit exchanges blocks $i$ and $j$:
#
# $$R_c = [r_a^1, .., r_b^i, .., r_b^j, .., r_a^n], \qquad R_d = [r_b^1, .., r_a^i, .., r_a^j, .., r_b^n]$$
#
# so $R_c$ is $I_a$'s face with $I_b$'s expression $j$. Every pair of a batch carries its own
# $(i, j)$, so the exchange is one masked selection over the batch.

# %%
show_source(jesrl.switch)

# %% [markdown]
# On a representation of 12 channels and $n = 6$ (blocks of two channels), exchanging
# expressions 1 and 4 moves exactly channels 2-3 and 8-9:

# %%
bounds = jesrl.block_bounds(12, 6)
R_a, R_b = torch.zeros(1, 12, 1, 1), torch.ones(1, 12, 1, 1)
R_c, R_d = jesrl.switch(R_a, R_b, torch.tensor([1]), torch.tensor([4]), bounds)
print("blocks:", bounds, "\nR_c:", R_c.flatten().int().tolist(),
      "\nR_d:", R_d.flatten().int().tolist(),
      "\nS_c:", jesrl.switch_code(torch.tensor([1]), torch.tensor([4]), 6).int().tolist())

# %% [markdown]
# ## Residual synthesis (Eq. 4)
#
# $G_{dec}$ draws a residual image from the new representation, the source's own and the switch
# code, and the residual is added to the source:
#
# $$I_c = G_{dec}([R_c, R_a, S_c]) + I_a, \quad I_d = G_{dec}([R_d, R_b, S_d]) + I_b, \quad
#   I'_a = G_{dec}([R_a, R_a, S_a]) + I_a, \quad I'_b = G_{dec}([R_b, R_b, S_b]) + I_b$$
#
# The four passes share weights, so a training step stacks them (and the two interpolated ones
# below) into **one** decoder call.

# %%
show_source(jesrl.G_dec.forward)

# %%
show_source(jesrl.Generator.decode)

# %% [markdown]
# ## Two discriminators, conditioned on the expression (Eq. 5)
#
# $$L_{adv} = \sum_{i=1}^2 \min_G \max_{D_i} \mathbb{E}[\log D_i(I, y)] + \mathbb{E}[\log(1 - D_i(G(I, y), y))]$$
#
# $D_1$ sees the face, $D_2$ the same face average-pooled to half the size; both see the label
# as $n$ extra input planes.

# %%
show_source(jesrl.MultiScaleD.forward)

# %%
show_source(jesrl.adv_loss_D)

# %% [markdown]
# ## Representation interpolation (Eqs. 6-7)
#
# Mixing the exchanged blocks, $p\, r_a^i + (1 - p)\, r_b^i$, lowers the target expression's
# intensity; the faces decoded from $R_c^p$, $R_d^p$ ($p = 0.5$) must still fool the
# discriminators as faces of the target expression ($L_{inter}$):

# %%
show_source(jesrl.interpolate)

# %%
show_source(jesrl.inter_loss_G)

# %% [markdown]
# ## The classifier (Eq. 8)
#
# $L_C = -\mathbb{E}[y^e \log FC([VGG(I), G_{enc}(I)])]$ over real and generated faces. End to end,
# $L_C$ reaches $G_{enc}$ through its input $G_{enc}(I)$: "with the representation as the bridge"
# (Sec. IV-E).

# %%
show_source(jesrl.C.features)

# %% [markdown]
# ## The other terms and the objective (Eqs. 9-12)
#
# $L_r = \|I_a - I'_a\|_2 + \|I_b - I'_b\|_2$ (Eq. 9); pixel-sum conservation
# $L_p$ (Eq. 10); the perceptual loss $L_{per} = \sum_i \|F^{(i)}(I_a) - F^{(i)}(I_d)\|_1 +
# \|F^{(i)}(I_b) - F^{(i)}(I_c)\|_1$ (Eq. 11), which compares each transfer with the face whose
# expression it took; a total-variation term; and
#
# $$L = L_{adv} + L_{inter} + L_C + \lambda_1 L_r + \lambda_2 L_{per} + \lambda_3 L_p + \lambda_4 TV(G(I_a, I_b))$$

# %%
show_source(jesrl.pixel_sum_loss)

# %%
show_source(jesrl.perceptual_loss)

# %%
show_source(jesrl.objective_G)

# %% [markdown]
# ## One training iteration
#
# Pairs are drawn as the paper says (one expression $i$ at a time, cycling over all of them):
# $I_a$ of class $i$, $I_b$ of any other class. Then $G_{enc}$ once, the switch unit, one decoder
# call, the discriminators' update, and one backward of Eq. (12) that steps $G$ and $C$ together.

# %%
show_source(jesrl.JESRL.step)

# %% [markdown]
# The variants of Table VII (and the authors' code), as switches of one configuration, and what
# each trains under this profile. Every recogniser updates $C$ equally often:

# %%
tables.switches(jesrl.VARIANTS)

# %%
report.update_budget(exp)

# %% [markdown]
# ## The paper and the authors' code
#
# The authors' public code (PyTorch 1.0) differs from the paper in ways a reader re-implementing
# JESRL must know. The book implements the paper; `official_code=True` (the `Official` variant)
# reproduces the code where it changes the method, and one claim of the ledger compares the two.

# %%
report.paper_vs_code()

# %% [markdown]
# ## Training every variant
#
# Per fold, the independent judge; per fold and seed, the plain CNN, the plain VGG-19
# (No_SynFI), the GAN variants, TwoStage (continuing from No_ExpR's GAN) and the Fig. 12 runs.
# Each experiment declares what it needs; the shared runner starts each as soon as its
# dependencies are done, one single-threaded process per core, and finished experiments come
# from the results cache.

# %%
print(exp.plan_summary())
results = exp.run_all()
print(exp.wall_time_summary())

# %% [markdown]
# ## Before any claim: a recogniser worth comparing, transfers that work
#
# **The recogniser:** the plain VGG-19 (No_SynFI: $C$ on real faces only) against the book's
# plain CNN with the same split, size and number of updates. **The transfers:** every test face
# given every other expression from a reference face of another test subject, read by the
# **judge**, networks trained on the fold's real training faces only: the target expression must
# be read in at least 70% of them, the identity kept (the judge's verification of transfer
# against source, true-accept rate at 1% false accepts, at least that of the person's *true* face
# with the target expression, which the synthetic world renders), and the transfer must be closer
# (PSNR) to that true face than a copy of the input. On real data there are no true faces, and
# those numbers are left out.

# %%
exp.gates()

# %% [markdown]
# How good the judge itself is on the real test faces of each fold:

# %%
exp.judge_quality()

# %% [markdown]
# The judge's reading of every GAN variant's transfers:

# %%
exp.synthesis_table()

# %% [markdown]
# Training curves of Ours on fold 0: the discriminators' mean probability on real and on
# transferred faces, the generator's adversarial and interpolation terms, and $C$.

# %%
s0 = exp.seeds[0]
log = pd.DataFrame(exp.result("Ours", 0, s0)["log"])
keys = ["D_real", "D_fake", "G_adv", "G_inter", "G_per", "G_tv", "L_C", "acc_C"]
keys = [k for k in keys if k in log]
viz.loss_curves(log, keys=keys, ncol=4, title="fold 0: Ours")

# %% [markdown]
# ## Unpaired transfer (Figs. 8-9)
#
# Rows: test faces of different people at different poses (first column). Other columns: the same
# face given each expression, taken from the reference face above it (a person not among the
# rows); the face's own expression column repeats the input.

# %%
def show_grid(variant):
    g = exp.result(variant, 0, s0)["grid"]
    display(viz.image_grid(g["references"], nrow=exp.K, col_labels=list(data.classes),
                           title="references (fold 0)", scale=0.8))
    return viz.image_grid(g["grid"].flatten(0, 1), nrow=exp.K + 1,
                          col_labels=["input", *data.classes], scale=0.8,
                          title=f"{variant}: each row's face with each reference's expression")


show_grid("Ours")

# %%
show_grid("Official")

# %% [markdown]
# ## Representation interpolation (Fig. 11)
#
# One face takes another's expression while the exchanged blocks are mixed by $p$ (Eq. 6):
# $p = 1$ is the face's own representation, $p = 0$ the full transfer. Left: Ours (With_inter),
# right: No_InterL (No_inter). The slider works in the static book.

# %%
frames = {v: exp.result(v, 0, s0)["interp"] for v in ("Ours", "No_InterL")}
ps = frames["Ours"]["p"].tolist()
both = torch.stack([frames["Ours"]["frames"], frames["No_InterL"]["frames"]], dim=1)
target = data.classes[frames["Ours"]["target"]]
display(viz.image_grid(torch.stack([frames["Ours"]["source"], frames["Ours"]["reference"]]), nrow=2,
                       col_labels=["I_1 (source)", f"I_2 ({target})"], scale=0.8))
viz.interpolation_slider(both, labels=[f"p = {p:.2f}" for p in ps],
                         title="With_inter (left) vs No_inter (right)")

# %%
viz.image_grid(both.transpose(0, 1).flatten(0, 1), nrow=len(ps),
               row_labels=["With_inter", "No_inter"], col_labels=[f"{p:.2f}" for p in ps],
               title="p from 1 (own) to 0 (transfer)", scale=0.8)

# %% [markdown]
# With a live kernel, `live = True` adds a slider that runs Ours's generator at each $p$.

# %%
if live:
    G_live = exp.train(exp.make("Ours", 0, s0)).nets["G"]
    f0 = frames["Ours"]
    def at(p):
        return jesrl.interpolation_frames(G_live, f0["source"], f0["reference"],
                                          f0["source_expression"], f0["target"],
                                          torch.tensor([float(p)]))
    values = [round(v, 2) for v in torch.linspace(0, 1, 21).tolist()]
    display(viz.live_slider(at, values, description="p"))

# %% [markdown]
# ## FID per expression (Tables V-VI)
#
# The Fréchet distance (Eq. 13, {cite}`heusel2017fid`) between the test faces of each expression and the transfers to
# that expression, mean ± std over folds and seeds. Offline, it is computed on the features of the
# judge's expression network, a network trained on the fold's **real** faces only (not
# Inception-v3, so the values are on another scale than the paper's). The last row is a copy of
# each source under the target's label: what a generator that changes nothing would score.

# %%
exp.fid_table()

# %% [markdown]
# ## Recognition (Tables II and VII, Fig. 5)
#
# Accuracy on the test faces of unseen subjects, mean ± std over folds and seeds, per pose:

# %%
summary = exp.accuracy_summary()
summary["chance (%)"] = f"{100 / exp.K:.2f}"
summary

# %%
exp.per_pose_table()

# %%
report.pose_comparison(exp)

# %%
viz.confusion_matrices({v: exp.confusion(v) for v in ("No_SynFI", "Ours")}, data.classes)

# %% [markdown]
# ## The amount of synthetic faces (Fig. 12)
#
# $C$ (VGG-19 alone) trained on the $N$ real training faces plus $kN$ transfers made by Ours's
# generator, with the same number of updates; $0N$ is No_SynFI. One seed per fold, so no claim.

# %%
curve = exp.curve_table()
fig, ax = plt.subplots(figsize=(6, 3.5))
sns.pointplot(data=curve, x="synthetic", y="accuracy", errorbar="sd", ax=ax,
              color=sns.color_palette("colorblind")[0], capsize=0.1)
sns.stripplot(data=curve, x="synthetic", y="accuracy", ax=ax, color="grey", size=3, alpha=0.6)
ax.axhline(100 / exp.K, ls="--", c="grey", lw=1, label="chance")
ax.set_xlabel("synthetic faces added"); ax.set_ylabel("accuracy (%)"); ax.legend()
ax.set_title("Fig. 12 analog (mean ± sd over folds)")
plt.close(fig)
fig

# %% [markdown]
# ## C's features with and without the representation
#
# $C$'s penultimate features of fold 0's test faces: Ours (with $G_{enc}(I)$) and No_ExpR
# (VGG-19 features only). Colour: expression; marker: pose.

# %%
viz.embedding_grid({v: exp.embedding(v) for v in ("Ours", "No_ExpR")},
                   methods=["tsne", "umap"] if P.umap else ["tsne"], class_names=data.classes,
                   style="pose", hue_title="expression", style_title="yaw", seed=seed,
                   style_names=lambda yaw: {int(p): f"{int(p)}°" for p in yaw.unique()})

# %% [markdown]
# ## Paper reports / this run
#
# The paper's numbers for the dataset this data stands in for, beside this run's; read the
# comparison as "same direction?", not "same value?" (other data, resolution and budget).

# %%
report.paper_comparison(exp)

# %% [markdown]
# ## Claims ledger
#
# Each headline claim, the two variants that test it, paired over folds and seeds:

# %%
ledger, per_fold_seed = exp.ledger()
ledger

# %%
tables.replicate_values(per_fold_seed)

# %% [markdown]
# ## Deviations from the paper
#
# Where the book departs from Section III and Table I (the authors' code is the `Official`
# variant above, not a deviation):

# %%
report.deviations(exp)

# %% [markdown]
# ## What matched, what did not, and why
#
# Table VII's ablations and the transfers, read from this run's numbers only:

# %%
display(Markdown(report.closing_notes(exp, ledger, wall=exp.wall_time_summary())))

# %% [markdown]
# ## Where the time went
#
# Per variant: runs computed in this build or read from the results cache, and their seconds.

# %%
exp.wall_time_table()
