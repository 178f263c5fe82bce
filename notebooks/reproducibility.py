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
# # Reproducibility report: every claim of the book
#
# Each paper chapter ends with a claims ledger: the paper's headline claims, each decided by
# paired replicates of two variants, an effect with its interval, the smallest effect the run
# could detect, and one verdict rule for the whole book. This page gathers every ledger in one
# table. It trains nothing: it rebuilds each chapter's study for the same profile, data and
# seed and reads the results that chapter stored in this build. A chapter whose results are
# missing, or were stored by other `fer_core` code (stale after a change), stops this page with
# a message naming the chapter and the command that computes it. That is why the book runs
# this page last.

# %% tags=["parameters"]
import os

profile = os.environ.get("FER_PROFILE", "small")  # smoke | small | paper: whose results to read
seed = 0
data_root = None  # the real dataset the chapters ran on; None: the synthetic world
dataset = "synthetic"

# %%
import matplotlib.pyplot as plt
from IPython.display import HTML, Markdown, display

from fer_core.claims import verdict_rule
from fer_core.methods import reproducibility as rep

table = rep.collect(profile, seed=seed, dataset=dataset, data_root=data_root)
print(f"profile={profile} seed={seed} data={data_root or dataset}: {len(table)} claims")

# %% [markdown]
# ## The rule, in symbols
#
# A claim compares variant $a$ with variant $b$ on $n$ paired replicates (the same fold and
# seed, or the same episode and seed). With $s = \pm 1$ the paper's direction, the effect is
#
# $$\bar d = \frac{1}{n}\sum_{i=1}^{n} d_i, \qquad d_i = s\,(m_{a,i} - m_{b,i}), \tag{1}$$
#
# its standard error, with the Nadeau–Bengio correction when the replicates are
# cross-validation folds whose training sets overlap ($n_{te}/n_{tr} = 0$ for independent runs),
#
# $$\widehat{\mathrm{se}} = \sqrt{\Big(\frac{1}{n} + \frac{n_{te}}{n_{tr}}\Big)\,
#   \frac{1}{n-1}\sum_{i=1}^{n}(d_i - \bar d)^2}, \tag{2}$$
#
# and the interval and the smallest effect the run could detect,
#
# $$\bar d \pm h, \qquad h = t_{1-\alpha/2,\,n-1}\,\widehat{\mathrm{se}}, \qquad
#   p = 2\,\Pr\big(T_{n-1} > |\bar d| / \widehat{\mathrm{se}}\big). \tag{3}$$
#
# A chapter's $p$-values are adjusted together with Holm's method; the verdict reads the
# adjusted value against $\alpha$, and only where $n \ge n_{min}$ (fewer replicates: inconclusive).
# The rule in words, with this build's $\alpha$ and $n_{min}$, follows the table below.

# %% [markdown]
# ## Verdicts per chapter

# %%
counts = rep.verdict_counts(table)
counts

# %%
fig, ax = plt.subplots(figsize=(8, 0.6 * (len(counts) - 1) + 1.6))
rep.verdict_plot(table, ax=ax)
fig.tight_layout()
plt.close(fig)
fig

# %% [markdown]
# ## Every claim
#
# "paper's effect" is the paper's own difference where it prints one on the metric this run
# measures (otherwise "–"); "this run" is the mean paired difference with its interval, signed
# so that a positive effect is the paper's direction; "detectable" is the interval's
# half-width.

# %%
rep.formatted(table)

# %%
display(HTML(f"<p><strong>Verdict rule.</strong> {verdict_rule()}</p>"))

# %% [markdown]
# ## In plain words
#
# Computed from the counts above.

# %%
display(Markdown(rep.summary(table)))
