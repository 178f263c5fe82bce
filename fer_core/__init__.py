"""fer_core: the library behind fer-book.

One home per concern:

- ``fer_core.runtime``   device choice, seeding, autocast
- ``fer_core.io``        atomic writes and safe checkpoint loading
- ``fer_core.train``     the one generic training loop (``fit``) and the ``Method`` contract
- ``fer_core.results``   the results store chapters build their tables from
- ``fer_core.claims``    the claims ledger
- ``fer_core.metrics``   accuracy, confusion, PSNR/SSIM, feature gaps
- ``fer_core.viz``       figures and the interpolation slider
- ``fer_core.profiles``  per-chapter ``smoke`` / ``small`` / ``paper`` settings
- ``fer_core.data``      the synthetic face world, real dataset adapters, protocols
- ``fer_core.nets``      shared networks
- ``fer_core.methods``   one module per paper
- ``fer_core.book``      the chapter runner (jupytext -> papermill -> Jupyter Book)
"""

__version__ = "0.1.0"
