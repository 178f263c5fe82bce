"""KDEF, the Karolinska Directed Emotional Faces: 4,900 photos of 70 people, 7 expressions, 5 views.

Each of 35 women and 35 men posed seven expressions twice (sessions A and B), each
photographed from five angles, as 562x762 RGB JPEGs. One folder per session and person;
the file name is the label: ``AF01ANS.JPG`` = session ``A``, female ``F``, person ``01``,
expression ``AN`` (angry), view ``S`` (straight). Expression codes: AF afraid, AN angry,
DI disgusted, HA happy, NE neutral, SA sad, SU surprised (``KDEF_CODES``). View codes:
FL full left profile, HL half left, S straight, HR half right, FR full right
(``KDEF_VIEWS``, as named views and as yaw -90, -45, 0, +45, +90 degrees; negative is
KDEF's "left").

Identity: ``subject`` is gender + number (``F01``), the same person in both sessions;
``meta.session`` keeps A/B, so folds by subject never put one person's session A in
train and session B in test.

The release holds a few misnamed files (names without expression or view) that no label
can be read from: they raise :class:`~fer_core.data.files.LabelFileError` naming them;
``skip_bad=True`` leaves them out and lists them in ``dataset.skipped``.
"""

from __future__ import annotations

import re
from typing import Sequence

import pandas as pd

from fer_core.data.base import EXPRESSIONS_7
from fer_core.data.files import (
    FileDataset, LabelFileError, UnknownClassError, find_root, list_images,
)

__all__ = ["KDEF", "LAYOUT", "KDEF_CODES", "KDEF_VIEWS", "parse_kdef_name"]

LAYOUT = """\
data_root/                      the KDEF/ folder of the release (KDEF_and_AKDEF/KDEF)
  AF01/                         <session A|B><gender F|M><person 01-35>
    AF01AFFL.JPG                <folder name><expression AF|AN|DI|HA|NE|SA|SU><view FL|HL|S|HR|FR>.JPG
    AF01AFHL.JPG  AF01AFS.JPG  AF01AFHR.JPG  AF01AFFR.JPG  ...   562x762 RGB JPEG, 35 per folder
  AF02/ ... BM35/
"""

KDEF_CODES: dict[str, str] = {"AF": "fear", "AN": "anger", "DI": "disgust", "HA": "happiness", "NE": "neutral",
                              "SA": "sadness", "SU": "surprise"}
# code -> (view name, yaw in degrees)
KDEF_VIEWS: dict[str, tuple[str, float]] = {"FL": ("full_left", -90.0), "HL": ("half_left", -45.0),
                                            "S": ("front", 0.0), "HR": ("half_right", 45.0),
                                            "FR": ("full_right", 90.0)}
VIEW_ORDER: tuple[str, ...] = tuple(v for v, _ in KDEF_VIEWS.values())
_FOLDER_RE = re.compile(r"^([AB])([FM])(\d{2})$", re.IGNORECASE)
_NAME_RE = re.compile(r"^([AB])([FM])(\d{2})([A-Z]{2})(FL|HL|S|HR|FR)\.jpe?g$", re.IGNORECASE)
_CODE_RE = re.compile(r"^([AB])([FM])(\d{2})([A-Z]{2})([A-Z]{1,2})\.jpe?g$", re.IGNORECASE)


def parse_kdef_name(name: str) -> dict:
    """``"AF01ANS.JPG"`` -> session, gender, person, subject (``F01``), code, expression, view, yaw.

    Raises:
        LabelFileError: the name does not follow ``<A|B><F|M><nn><expr><view>.JPG``.
        UnknownClassError: an expression or view code KDEF does not define.
    """
    m = _NAME_RE.match(name)
    if not m:
        c = _CODE_RE.match(name)
        if c and c.group(4).upper() not in KDEF_CODES:
            raise UnknownClassError(f"KDEF: file {name!r} has expression code {c.group(4).upper()!r}; KDEF's codes are "
                                    f"{', '.join(f'{k} {v}' for k, v in KDEF_CODES.items())}.")
        if c:
            raise UnknownClassError(f"KDEF: file {name!r} has view code {c.group(5).upper()!r}; KDEF's views are "
                                    f"{', '.join(KDEF_VIEWS)}.")
        raise LabelFileError(f"KDEF: file name {name!r} does not follow '<session A|B><gender F|M><person nn>"
                             "<expression><view>.JPG' (e.g. AF01ANS.JPG); the label is in the name.")
    session, gender, num, code, view = (g.upper() for g in m.groups())
    if code not in KDEF_CODES:
        raise UnknownClassError(f"KDEF: file {name!r} has expression code {code!r}; KDEF's codes are "
                                f"{', '.join(f'{k} {v}' for k, v in KDEF_CODES.items())}.")
    vname, yaw = KDEF_VIEWS[view]
    return {"session": session, "gender": gender, "subject": f"{gender}{num}", "code": code,
            "expression": EXPRESSIONS_7.index(KDEF_CODES[code]), "view": vname, "yaw": yaw}


def _view_names(views: Sequence[str] | None) -> tuple[str, ...]:
    if views is None:
        return VIEW_ORDER
    by_code = {k.lower(): v for k, (v, _) in KDEF_VIEWS.items()}
    out = []
    for v in ((views,) if isinstance(views, str) else views):
        name = by_code.get(str(v).lower(), str(v).lower())
        if name not in VIEW_ORDER:
            raise ValueError(f"views must be KDEF view codes {list(KDEF_VIEWS)} or names {list(VIEW_ORDER)}, got {v!r}")
        out.append(name)
    return tuple(v for v in VIEW_ORDER if v in out)


class KDEF(FileDataset):
    """KDEF in the publisher's layout (see ``LAYOUT``).

    Args:
        root: the ``KDEF`` folder (holding ``AF01/`` ... ``BM35/``).
        views: keep only these views (codes ``"S"`` or names ``"front"``); default all five.
        sessions: keep these sessions (default both, ``("A", "B")``).
        **kwargs: as :class:`fer_core.data.files.FileDataset`. With ``skip_bad=True``,
            files whose names do not parse are left out and listed in ``dataset.skipped``.

    ``meta`` columns: path, subject (``F01``), expression (``EXPRESSIONS_7`` index), view,
    yaw, session, gender, code. ``item["view"]`` indexes ``dataset.views``, ordered from
    full left to full right.
    """

    name = "kdef"
    warn_name = "KDEF"
    scan_skips = "file(s) whose names do not parse"
    LAYOUT = LAYOUT
    detect_faces = True  # uncropped photos without landmarks (fer_core.data.faces aligns them)
    classes = EXPRESSIONS_7

    def __init__(self, root, *, views: Sequence[str] | None = None, sessions: Sequence[str] = ("A", "B"), **kwargs):
        self.keep_views = _view_names(views)
        self.sessions = tuple(s.upper() for s in ((sessions,) if isinstance(sessions, str) else sessions))
        if not self.sessions or any(s not in ("A", "B") for s in self.sessions):
            raise ValueError(f"sessions must be among ('A', 'B'), got {sessions!r}")
        super().__init__(root, **kwargs)

    def _setup(self, meta: pd.DataFrame) -> None:
        super()._setup(meta)
        # The base orders views alphabetically; left-to-right is the order a reader expects.
        present = set(self.meta["view"])
        self._views = tuple(v for v in VIEW_ORDER if v in present)
        if hasattr(self, "_index_columns"):
            self._index_columns()

    def scan(self) -> pd.DataFrame:
        def marker(p):
            return any(_FOLDER_RE.match(c.name) for c in p.iterdir() if c.is_dir()) if p.is_dir() else False

        root = find_root(self.root, dataset="KDEF", marker=marker,
                         expected="the person folders AF01/ ... BM35/ (the KDEF folder of the release)")
        self.root = root
        rows = []
        folders = sorted(c for c in root.iterdir() if c.is_dir() and _FOLDER_RE.match(c.name))
        for folder in folders:
            for f in list_images(folder, extensions=(".jpg", ".jpeg")):
                try:
                    info = parse_kdef_name(f.name)
                    if not f.name.upper().startswith(folder.name.upper()):
                        raise LabelFileError(f"KDEF: file {f.name!r} lies in folder {folder.name}/ but names another "
                                             "session or person; move it to its own folder.")
                except (LabelFileError, UnknownClassError) as exc:
                    if not self.skip_bad:
                        raise type(exc)(f"{exc} ({f}; or pass skip_bad=True to leave such files out)") from None
                    self._scan_skipped.append((f"{folder.name}/{f.name}", str(exc)))
                    continue
                if info["session"] in self.sessions and info["view"] in self.keep_views:
                    rows.append({"path": f"{folder.name}/{f.name}", **info})
        return pd.DataFrame(rows, columns=["path", "subject", "expression", "view", "yaw", "session", "gender", "code"])
