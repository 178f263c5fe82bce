"""Progress bars for every long loop: ``tqdm.auto`` live, a one-line summary when rendered.

In Jupyter or a terminal the bars are ``tqdm.auto``'s (a widget in notebooks). A notebook
executed for the book (papermill sets ``FER_PROGRESS=summary`` through ``fer book``)
cannot keep a live widget: its saved output would read "0%" forever. In that mode each
bar draws nothing while it runs and prints its final state once when it closes, e.g.
``fesr JL: 100%|██████████| 600/600 [00:41<00:00, 14.5it/s, L_R=0.31]``.

``FER_PROGRESS``: ``auto`` (default), ``summary``, or ``off``.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any

from tqdm.auto import tqdm as _auto_tqdm
from tqdm.std import tqdm as _std_tqdm

__all__ = ["tqdm", "progress_mode"]

_MODES = ("auto", "summary", "off")


def progress_mode() -> str:
    mode = os.environ.get("FER_PROGRESS", "auto").strip().lower() or "auto"
    if mode not in _MODES:
        raise ValueError(f"FER_PROGRESS must be one of {_MODES}, got {mode!r}")
    return mode


class _SummaryBar(_std_tqdm):
    """A bar that renders into a buffer and prints its last state once, on close."""

    def __init__(self, *args: Any, **kwargs: Any):
        self._announce = kwargs.get("leave", True) is not False
        kwargs["file"] = io.StringIO()
        super().__init__(*args, **kwargs)

    def close(self) -> None:
        if not self.disable and self._announce and not getattr(self, "_summarised", False):
            self._summarised = True
            print(self.__str__(), file=sys.stdout, flush=True)
        super().close()


def tqdm(*args: Any, **kwargs: Any):
    """Drop-in for ``tqdm.auto.tqdm`` that honours ``FER_PROGRESS``."""
    mode = progress_mode()
    if mode == "off":
        kwargs["disable"] = True
        return _std_tqdm(*args, **kwargs)
    if mode == "summary":
        return _SummaryBar(*args, **kwargs)
    return _auto_tqdm(*args, **kwargs)
