"""Every chapter's ``smoke`` / ``small`` / ``paper`` settings, in one place.

- ``smoke``: seconds per chapter on a CPU; what CI executes through nbval.
- ``small``: the default; minutes per chapter on a 2-core CPU, synthetic data, results that
  already show the paper's effects (or honestly show that they do not).
- ``paper``: paper-faithful sizes and schedules for a GPU, on real or synthetic data.

A notebook reads its settings with ``get_profile("<chapter>", profile)`` right after its
papermill ``parameters`` cell; nothing else in a notebook hard-codes a size or a step count.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Iterator, Mapping

__all__ = ["PROFILE_NAMES", "PROFILES", "Profile", "get_profile"]

PROFILE_NAMES = ("smoke", "small", "paper")

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    # The synthetic-world chapter: figures plus the sanity experiment (a small CNN).
    "data": {
        "smoke": dict(size=32, n_identities=12, steps=30, batch_size=32, width=8, seeds=(0,), n_test=96,
                      embed_points=120),
        "small": dict(size=48, n_identities=40, steps=600, batch_size=64, width=16, seeds=(0, 1), n_test=600,
                      embed_points=700),
        "paper": dict(size=128, n_identities=120, steps=4000, batch_size=128, width=32, seeds=(0, 1, 2), n_test=3000,
                      embed_points=2000),
    },
}


class Profile(Mapping[str, Any]):
    """Read-only settings with attribute access (``P.steps``) and the profile's name (``P.name``)."""

    def __init__(self, chapter: str, name: str, values: Mapping[str, Any]):
        self._values = MappingProxyType(dict(values))
        self.chapter, self.name = chapter, name

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["_values"][key]
        except KeyError:
            raise AttributeError(
                f"profile {self.__dict__.get('chapter')}/{self.__dict__.get('name')} has no setting {key!r}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Profile({self.chapter!r}, {self.name!r}, {dict(self._values)})"

    def as_dict(self) -> dict[str, Any]:
        return {"chapter": self.chapter, "profile": self.name, **self._values}


def get_profile(chapter: str, name: str) -> Profile:
    """The settings of ``chapter`` under profile ``name`` (``smoke``, ``small`` or ``paper``)."""
    if chapter not in PROFILES:
        raise ValueError(f"unknown chapter {chapter!r}; chapters with profiles: {sorted(PROFILES)}")
    if name not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {name!r}; choose one of {PROFILE_NAMES}")
    return Profile(chapter, name, PROFILES[chapter][name])
