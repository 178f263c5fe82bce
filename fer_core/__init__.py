"""fer_core: the library behind fer-book.

One home per concern:

- ``fer_core.runtime``      device choice, seeding, autocast
- ``fer_core.io``           atomic writes and safe checkpoint loading
- ``fer_core.train``        the one generic training loop (``fit``), the ``Method`` contract, optimisers
- ``fer_core.distributed``  torchrun launches and the arithmetic of data parallelism
- ``fer_core.experiments``  plans with declared dependencies, the runner, studies, chapter data, tables
- ``fer_core.results``      the results store chapters build their tables from
- ``fer_core.claims``       the claims ledger and its statistics
- ``fer_core.evaluate``     predictions, accuracy, features, verification, Fréchet distance
- ``fer_core.judge``        the independent judge of generated faces
- ``fer_core.losses``       adversarial losses shared by the GANs
- ``fer_core.metrics``      accuracy, confusion, PSNR/SSIM, verification rates, feature gaps
- ``fer_core.viz``          figures and the interpolation slider
- ``fer_core.profiles``     per-chapter ``smoke`` / ``small`` / ``paper`` settings
- ``fer_core.data``         the synthetic face world, real dataset adapters, protocols, in-memory datasets
- ``fer_core.nets``         shared networks (identity, LightCNN-29 v2, backbones, SmallCNN), layer tables
- ``fer_core.methods``      one package per paper (and the Data chapter's sanity experiment)
- ``fer_core.book``         the chapter runner (jupytext -> papermill -> Jupyter Book)
- ``fer_core.provenance``   the provenance block of every chapter page
"""

__version__ = "0.1.0"
