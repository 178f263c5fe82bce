"""MMI Facial Expression Database (posed sessions with an emotion label).

MMI sequences start neutral, reach the apex in the middle and return to neutral.
FESR uses the labelled frontal sequences of 30 subjects with six expressions and a
manually chosen peak frame (training on the peak and its neighbours, testing on the
peak); Switch-GAN (JESRL) uses 208 frontal sequences of 31 subjects, the first frame as
*neutral* and three frames near the middle as the labelled peak frames.

The publisher distributes each session as a folder named by its session id holding a
video and a ``session.xml`` metadata file. The exact XML schema and the extraction of
frames are not fixed by the papers, so this adapter reads the following, documented
layout (what a reader has after downloading the frontal sessions and extracting the
frames of each video, e.g. ``ffmpeg -i S001-001.avi frames/%04d.png``):

- the subject is the ``id`` attribute of a ``<subject>`` element, else a ``subjectId``
  attribute, else the ``S001`` prefix of the session's video file name;
- the label is the ``value`` of the element whose ``name`` attribute is ``Emotion``
  (case-insensitive), MMI codes 1 anger, 2 disgust, 3 fear, 4 happiness, 5 sadness,
  6 surprise. Sessions without an Emotion tag (the action-unit-only sessions) are
  left out and counted in ``n_unlabeled``.
- the peak frame: from ``peaks.csv`` (``session,peak_frame`` with the 0-based position
  of the peak among the session's sorted frames) where the reader made one, else the
  middle frame. Deviation from FESR: the paper picks peak frames by hand; without
  ``peaks.csv`` we take the middle frame, as JESRL does.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from fer_core.data.base import EXPRESSIONS_7
from fer_core.data.files import (
    FileDataset, LabelFileError, MissingFolderError, UnknownClassError, find_root, list_images, read_text,
    subfolders,
)

__all__ = ["MMI", "LAYOUT", "MMI_CODES"]

LAYOUT = """\
data_root/                       the Sessions/ folder of the download
  1767/                          one folder per session (its id)
    session.xml                  metadata: <subject id="1"/> ... <... name="Emotion" value="1..6"/>
    S001-001.avi                 the publisher's video (not read)
    frames/0001.png ...          frames extracted by the reader (or images directly in 1767/)
  peaks.csv                      optional: session,peak_frame (0-based index among the sorted frames)
"""

MMI_CODES = {1: "anger", 2: "disgust", 3: "fear", 4: "happiness", 5: "sadness", 6: "surprise"}
_FIX_XML = "Re-download the session's metadata (session.xml) from the MMI site."


def _is_root(p: Path) -> bool:
    try:
        return any((c / "session.xml").is_file() for c in p.iterdir() if c.is_dir())
    except OSError:
        return False


def parse_session_xml(path: Path) -> tuple[str | None, int | None]:
    """(subject, MMI emotion code or None) from one ``session.xml``; LabelFileError when malformed."""
    text = read_text(path, dataset="MMI", what="session metadata", fix=_FIX_XML)
    try:
        tree = ET.fromstring(text)
    except ET.ParseError as exc:
        raise LabelFileError(f"MMI: session metadata {path} is not valid XML ({exc}). {_FIX_XML}") from None
    subject = None
    for el in tree.iter():
        if el.tag.lower() == "subject" and "id" in {k.lower() for k in el.attrib}:
            subject = next(v for k, v in el.attrib.items() if k.lower() == "id")
            break
    if subject is None:
        subject = next((v for k, v in tree.attrib.items() if k.lower() == "subjectid"), None)
    code = None
    for el in tree.iter():
        attrs = {k.lower(): v for k, v in el.attrib.items()}
        if attrs.get("name", "").lower() == "emotion":
            raw = attrs.get("value", "").strip()
            try:
                code = int(float(raw))
            except ValueError:
                raise LabelFileError(f"MMI: {path} has Emotion value {raw!r}, not a number. {_FIX_XML}") from None
            if code not in MMI_CODES or float(raw) != code:
                raise UnknownClassError(f"MMI: {path} has Emotion code {raw}; MMI codes are "
                                        f"{', '.join(f'{k} {v}' for k, v in MMI_CODES.items())}. {_FIX_XML}")
            break
    if subject is not None and re.fullmatch(r"\d+", subject.strip()):
        subject = f"S{int(subject):03d}"
    return subject, code


class MMI(FileDataset):
    """MMI sessions with extracted frames (see ``LAYOUT`` and the module docstring).

    Args:
        root: the folder holding the session folders.
        neutral: keep *neutral* as class 0 (default, the 7 classes of ``EXPRESSIONS_7``;
            needed by the JESRL rule that relabels first frames). ``False``: six classes.
        **kwargs: as :class:`fer_core.data.files.FileDataset`.

    ``meta`` columns: path, subject, sequence (the session id), frame, n_frames,
    peak_frame, expression.
    """

    name = "mmi"
    LAYOUT = LAYOUT

    def __init__(self, root, *, neutral: bool = True, **kwargs):
        self.neutral = bool(neutral)
        self.classes = EXPRESSIONS_7 if self.neutral else EXPRESSIONS_7[1:]
        super().__init__(root, **kwargs)

    def _peaks(self, root: Path) -> dict[str, int]:
        path = root / "peaks.csv"
        if not path.exists():
            return {}
        text = read_text(path, dataset="MMI", what="peak-frame list", fix="Fix or delete peaks.csv.")
        out = {}
        rows = list(csv.reader(line for line in text.splitlines() if line.strip()))
        if rows and rows[0] and rows[0][0].strip().lower() == "session":
            rows = rows[1:]
        for n, row in enumerate(rows, start=2):
            try:
                session, peak = row[0].strip(), int(row[1])
            except (IndexError, ValueError):
                raise LabelFileError(f"MMI: {path} line {n} is {','.join(row)!r}; expected 'session,peak_frame' "
                                     "with an integer frame. Fix or delete peaks.csv.") from None
            out[session] = peak
        return out

    def scan(self) -> pd.DataFrame:
        root = find_root(self.root, dataset="MMI", marker=_is_root,
                         expected="one folder per session, each with a session.xml")
        self.root = root
        peaks = self._peaks(root)
        rows = []
        self.n_unlabeled = 0
        for sess in sorted(subfolders(root), key=lambda p: (len(p.name), p.name)):
            xml = sess / "session.xml"
            if not xml.is_file():
                raise LabelFileError(f"MMI: session folder {sess} has no session.xml, so its subject and label are "
                                     f"unknown. {_FIX_XML} Or remove the folder.")
            subject, code = parse_session_xml(xml)
            if code is None:
                self.n_unlabeled += 1
                continue
            if subject is None:
                video = next((v for v in sess.iterdir() if re.match(r"S\d+-", v.name)), None)
                if video is None:
                    raise LabelFileError(f"MMI: {xml} names no subject and {sess} holds no S001-...-style video to "
                                         f"infer it from. {_FIX_XML}")
                subject = video.name.split("-")[0]
            frames_dir = sess / "frames" if (sess / "frames").is_dir() else sess
            frames = list_images(frames_dir)
            if not frames:
                raise MissingFolderError(
                    f"MMI: session {sess} has no extracted frames. Extract them next to the video, e.g. "
                    f"`ffmpeg -i {sess}/<video>.avi {sess}/frames/%04d.png`.")
            frames.sort(key=lambda f: (int(m.group(1)) if (m := re.search(r"(\d+)$", f.stem)) else -1, f.name))
            peak = peaks.get(sess.name, len(frames) // 2)
            if not 0 <= peak < len(frames):
                raise LabelFileError(f"MMI: peaks.csv gives peak_frame {peak} for session {sess.name}, which has "
                                     f"{len(frames)} frames (0-based). Fix peaks.csv.")
            expression = self.classes.index(MMI_CODES[code])
            for rank, f in enumerate(frames):
                rows.append({"path": f.relative_to(root).as_posix(), "subject": subject, "sequence": sess.name,
                             "frame": rank, "n_frames": len(frames), "peak_frame": peak, "expression": expression})
        return pd.DataFrame(rows, columns=["path", "subject", "sequence", "frame", "n_frames", "peak_frame",
                                           "expression"])
