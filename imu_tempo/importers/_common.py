"""Shared machinery of the importers: files (plain, in a folder, in a zip), delimited
tables with clear errors, time clean-up, multi-rate resampling and the final checks.

Everything here is pure computation or blocking file I/O in the calling thread.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ImuTempoWarning, RecordingError, UnitError
from ..sources.recording import Recording

#: Longest hole in a secondary stream (gyro, gravity) bridged by linear interpolation when
#: it is resampled onto the accelerometer's clock.  Accelerometer samples inside a longer
#: hole are dropped, so the hole shows up as a gap in the output, as the engine expects.
BRIDGE_S = 0.1

#: Median |accel| of a body-worn recording in m/s^2 (same band as the CSV v1 reader).
RESTING_ACCEL_BAND_MPS2 = (4.0, 25.0)
#: 99th percentile |gyro| above this (rad/s) is beyond any IMU: the unit is wrong.
MAX_PLAUSIBLE_GYRO_RADPS = 40.0


# ---------------------------------------------------------------------------------------
# Files


@dataclass(frozen=True)
class InputFile:
    """One file of an export: on disk, or a member of a folder or zip archive.

    ``name`` is what error messages show (``export.zip!Gyroscope.csv``), ``basename`` the
    member's own file name, ``data`` its bytes.
    """

    name: str
    basename: str
    data: bytes = field(repr=False)


def expand(path: str | os.PathLike[str]) -> tuple[list[InputFile], bool]:
    """The files behind one path: itself, a folder's files (and ``meta/``), or a zip's members.

    Returns the files and whether the path was a container (folder or zip), whose
    unrecognised members are ignored instead of being errors.
    """
    p = os.fspath(path)
    if os.path.isdir(p):
        out: list[InputFile] = []
        for root in (p, os.path.join(p, "meta")):
            if not os.path.isdir(root):
                continue
            for entry in sorted(os.listdir(root)):
                full = os.path.join(root, entry)
                if os.path.isfile(full) and entry.lower().endswith((".csv", ".txt")):
                    out.append(InputFile(full, entry, _read(full)))
        return out, True
    if p.lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(p) as zf:
                members = []
                for info in zf.infolist():
                    base = info.filename.rsplit("/", 1)[-1]
                    if info.is_dir() or not base.lower().endswith((".csv", ".txt")) or base.startswith("._"):
                        continue
                    members.append(InputFile(f"{p}!{info.filename}", base, zf.read(info)))
        except (OSError, zipfile.BadZipFile) as exc:
            raise RecordingError(f"cannot read the zip archive: {exc}", path=p) from None
        return members, True
    return [InputFile(p, os.path.basename(p), _read(p))], False


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise RecordingError(f"cannot open the file: {exc.strerror or exc}", path=path) from None


# ---------------------------------------------------------------------------------------
# Tables


def _text(f: InputFile) -> str:
    data = f.data
    if b"\x00" in data[:4096]:
        raise RecordingError("this looks like a binary file, not a CSV/text export", path=f.name)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


def norm(name: str) -> str:
    """A column name as compared: quotes and surrounding spaces removed, lower case."""
    return name.strip().strip('"').strip().lower()


@dataclass
class Table:
    """A delimited text table: its header and the lines below it (parsed on demand)."""

    file: InputFile
    header: list[str]
    delimiter: str
    decimal_comma: bool
    header_line: int  # 1-based
    body: list[str]  # raw lines after the header (line numbers header_line + 1 + i)

    @property
    def names(self) -> list[str]:
        return [norm(h) for h in self.header]

    def header_text(self) -> str:
        return self.delimiter.join(h.strip() for h in self.header)

    def find(self, *candidates: str) -> int | None:
        """Index of the first column whose normalised name is one of ``candidates``."""
        names = self.names
        for c in candidates:
            if c in names:
                return names.index(c)
        return None

    def numbers(self, cols: Sequence[int]) -> np.ndarray:
        """The columns ``cols`` as an (n, k) float64 array; errors name the line and column.

        Blank lines are skipped.  ``NaN`` cells are kept (callers decide); other text is an error.
        """
        lines = [ln for ln in self.body if ln.strip()]
        if not lines:
            raise RecordingError(
                f"the header (line {self.header_line}) is followed by no data rows", path=self.file.name
            )
        fast = self._fast(lines, cols)
        if fast is not None:
            return fast
        return self._slow(cols)

    def _fast(self, lines: list[str], cols: Sequence[int]) -> np.ndarray | None:
        body = "\n".join(lines)
        if self.decimal_comma:
            body = body.replace(",", ".")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                arr = np.loadtxt(
                    io.StringIO(body), delimiter=self.delimiter, usecols=list(cols), dtype=np.float64,
                    ndmin=2, quotechar='"', comments=None,
                )
        except (ValueError, IndexError):
            return None
        if arr.shape[0] != len(lines):
            return None
        return arr

    def _slow(self, cols: Sequence[int]) -> np.ndarray:
        rows: list[list[float]] = []
        need = max(cols) + 1
        for i, raw in enumerate(self.body):
            line_no = self.header_line + 1 + i
            if not raw.strip():
                continue
            cells = next(csv.reader([raw], delimiter=self.delimiter))
            if len(cells) < need:
                raise RecordingError(
                    f"{len(cells)} cells but the header has {len(self.header)} ({self.header_text()})",
                    path=self.file.name, line=line_no,
                )
            row = []
            for c in cols:
                cell = cells[c].strip()
                if self.decimal_comma:
                    cell = cell.replace(",", ".")
                try:
                    row.append(float(cell))
                except ValueError:
                    what = "is empty" if not cell else f"holds {cells[c].strip()!r}, not a number"
                    raise RecordingError(
                        f"column {self.header[c].strip()!r} {what}", path=self.file.name, line=line_no
                    ) from None
            rows.append(row)
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(cols))

    def strings(self, col: int) -> list[str]:
        """One column as text (for example a date column), blank lines skipped."""
        out = []
        for raw in self.body:
            if raw.strip():
                cells = raw.split(self.delimiter)
                out.append(cells[col].strip().strip('"') if col < len(cells) else "")
        return out


def read_table(f: InputFile, *, skip_comments: bool = False) -> Table:
    """Split a delimited text file into its header and data lines.

    The delimiter is whichever of ``,`` ``;`` tab splits the header into the most columns
    (quotes respected).  With ``;`` or tab as delimiter, a ``,`` in the first data row means
    decimal commas (phyphox's "decimal comma" CSV variants).
    """
    text = _text(f)
    lines = text.splitlines()
    header_idx = None
    for i, ln in enumerate(lines):
        s = ln.strip()
        if not s or (skip_comments and s.startswith("#")):
            continue
        header_idx = i
        break
    if header_idx is None:
        raise RecordingError("the file is empty: expected a header line and data rows", path=f.name)
    head = lines[header_idx]
    best, best_n = ",", 0
    for d in (",", ";", "\t"):
        n = len(next(csv.reader([head], delimiter=d)))
        if n > best_n:
            best, best_n = d, n
    header = next(csv.reader([head], delimiter=best))
    while header and not header[-1].strip():  # a trailing delimiter (Polar HR files)
        header.pop()
    body = lines[header_idx + 1 :]
    decimal_comma = False
    if best != ",":
        first = next((ln for ln in body if ln.strip()), "")
        decimal_comma = "," in first
    return Table(f, header, best, decimal_comma, header_idx + 1, body)


# ---------------------------------------------------------------------------------------
# Time clean-up and resampling


@dataclass
class Notes:
    """What an import changed, for the metadata and the user."""

    items: list[str] = field(default_factory=list)
    dropped: int = 0

    def add(self, text: str) -> None:
        self.items.append(text)


def clean_stream(
    t: np.ndarray, values: np.ndarray, *, what: str, name: str, notes: Notes, quantum_s: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Make a stream's time strictly increasing without inventing samples.

    - rows of nothing but NaN are padding (phyphox pads short columns) and are removed;
    - rows with another non-finite time or value are dropped (counted: data was lost);
    - rows whose time is earlier than an earlier row's are dropped (a clock step back);
    - exact repeats of the previous row (same time, same values) are dropped;
    - runs of rows sharing one time stamp but holding different values are real samples
      with a coarse clock (``epoc (ms)`` at 400 Hz): they are spread evenly between that
      stamp and the next one (``quantum_s`` says the clock's resolution, for the note).
    """
    t = np.asarray(t, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    n0 = t.size
    empty = np.isnan(t) & np.isnan(v).all(axis=1)  # padding (phyphox fills short columns with NaN)
    if empty.any():
        t, v = t[~empty], v[~empty]
        n0 -= int(empty.sum())
    ok = np.isfinite(t) & np.isfinite(v).all(axis=1)
    if not ok.all():
        k = int((~ok).sum())
        notes.add(f"{what}: {k} row(s) with missing (NaN) values dropped")
        t, v = t[ok], v[ok]
    if t.size == 0:
        raise RecordingError(f"no {what} samples with finite values", path=name)
    prev_max = np.maximum.accumulate(t)
    back = np.zeros(t.size, dtype=bool)
    back[1:] = t[1:] < prev_max[:-1]
    if back.any():
        k = int(back.sum())
        notes.add(f"{what}: {k} row(s) whose time went backwards dropped")
        t, v = t[~back], v[~back]
    same = np.zeros(t.size, dtype=bool)
    same[1:] = (t[1:] == t[:-1]) & (v[1:] == v[:-1]).all(axis=1)
    if same.any():
        k = int(same.sum())
        notes.add(f"{what}: {k} exact duplicate row(s) dropped")
        t, v = t[~same], v[~same]
    rep = int((np.diff(t) == 0).sum())
    if rep:
        t = t.copy()
        uniq, first, counts = np.unique(t, return_index=True, return_counts=True)
        dt_typ = float(np.median(np.diff(uniq))) if uniq.size > 1 else 0.0
        for s, c in zip(first[counts > 1], counts[counts > 1]):
            e = s + c
            nxt = t[e] if e < t.size else t[s] + c * dt_typ
            t[s:e] = t[s] + (nxt - t[s]) * np.arange(c) / c
        res = f" ({quantum_s * 1e3:g} ms clock)" if quantum_s else ""
        notes.add(f"{what}: {rep} sample(s) sharing a time stamp{res} spread evenly to the next stamp")
    notes.dropped += n0 - t.size
    return t, v


def resample_onto(
    t_master: np.ndarray, t_src: np.ndarray, v_src: np.ndarray, *, bridge_s: float = BRIDGE_S
) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of ``v_src`` (n, k) at ``t_master``; and which master samples it covers.

    A master sample is covered when it lies within the source's time span and not inside a
    source hole longer than ``max(bridge_s, 1.5 x the source's median period)``.
    """
    out = np.empty((t_master.size, v_src.shape[1]))
    for j in range(v_src.shape[1]):
        out[:, j] = np.interp(t_master, t_src, v_src[:, j])
    covered = (t_master >= t_src[0]) & (t_master <= t_src[-1])
    if t_src.size > 1:
        d = np.diff(t_src)
        limit = max(bridge_s, 1.5 * float(np.median(d)))
        for i in np.flatnonzero(d > limit):
            covered &= ~((t_master > t_src[i]) & (t_master < t_src[i + 1]))
    return out, covered


def attach(
    t: np.ndarray, a: np.ndarray, t_src: np.ndarray, v_src: np.ndarray, *, what: str, notes: Notes
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Put a secondary stream on the accelerometer's clock: ``(t, a, v)`` for the covered samples.

    Identical time stamps are taken as they are; otherwise ``v_src`` is interpolated
    (:func:`resample_onto`) and accelerometer samples it does not cover are dropped (noted).
    """
    if t_src.shape == t.shape and np.array_equal(t_src, t):
        return t, a, v_src
    v, covered = resample_onto(t, t_src, v_src)
    if not covered.all():
        k = int((~covered).sum())
        notes.add(f"{k} accelerometer sample(s) without {what} data (before, after or in a hole) dropped")
        notes.dropped += k
        t, a, v = t[covered], a[covered], v[covered]
    notes.add(f"{what} interpolated onto the accelerometer's clock")
    return t, a, v


def median_rate_hz(t: np.ndarray) -> float | None:
    if t.size < 2:
        return None
    d = float(np.median(np.diff(t)))
    return 1.0 / d if d > 0 else None


# ---------------------------------------------------------------------------------------
# The result


def clean_metadata_value(value: object) -> str:
    return re.sub(r"\s+", " ", str(value)).strip()


def build_recording(
    *,
    name: str,
    t_s: np.ndarray,
    accel_mps2: np.ndarray,
    gyro_radps: np.ndarray | None,
    metadata: dict[str, str],
    fs_hz: float | None = None,
    accel_hint: str = "",
    gyro_hint: str = "",
    notes: Notes | None = None,
) -> Recording:
    """Check the converted arrays and wrap them as a :class:`~imu_tempo.sources.recording.Recording`.

    Raises :class:`~imu_tempo.errors.UnitError` when the magnitudes contradict the units
    (``accel_hint`` / ``gyro_hint`` say what to do), and
    :class:`~imu_tempo.errors.RecordingError` when fewer than two samples remain.
    """
    t = np.ascontiguousarray(t_s, dtype=np.float64)
    a = np.ascontiguousarray(accel_mps2, dtype=np.float64)
    g = None if gyro_radps is None else np.ascontiguousarray(gyro_radps, dtype=np.float64)
    if t.size < 2:
        raise RecordingError(f"only {t.size} usable sample(s) after import; nothing to analyse", path=name)
    if not (np.diff(t) > 0).all():  # pragma: no cover - clean_stream guarantees it
        raise RecordingError("time does not strictly increase after import", path=name)
    mag = float(np.median(np.linalg.norm(a, axis=1)))
    lo, hi = RESTING_ACCEL_BAND_MPS2
    if not (lo <= mag <= hi):
        if mag < 0.5:
            why = (
                "gravity has been removed (linear / user acceleration): imu-tempo needs the raw "
                "accelerometer, which reads about 9.81 m/s^2 at rest"
            )
        else:
            why = "the unit is probably not what the export states"
        raise UnitError(
            f"median |acceleration| is {mag:.3g} m/s^2 after conversion (a worn sensor reads about 9.81): "
            f"{why}{'; ' + accel_hint if accel_hint else ''}",
            path=name,
        )
    if g is not None and g.size:
        p99 = float(np.percentile(np.linalg.norm(g, axis=1), 99))
        if p99 > MAX_PLAUSIBLE_GYRO_RADPS:
            raise UnitError(
                f"99th percentile |angular rate| is {p99:.3g} rad/s after conversion, beyond any IMU's range"
                f"{'; ' + gyro_hint if gyro_hint else ''}",
                path=name,
            )
    measured = median_rate_hz(t)
    rate = fs_hz if fs_hz is not None else measured
    if rate is None or not math.isfinite(rate) or rate <= 0:
        raise RecordingError("cannot tell the sample rate", path=name)
    if fs_hz is not None and measured is not None and not (0.8 <= measured / fs_hz <= 1.25):
        rate = measured  # the declared rate disagrees with the stamps: trust the data
    meta = {k: clean_metadata_value(v) for k, v in metadata.items() if clean_metadata_value(v)}
    meta["sample_rate_hz"] = f"{rate:.6g}"
    if notes is not None and notes.items:
        meta["import_notes"] = "; ".join(notes.items)
        if notes.dropped:
            warnings.warn(f"{name}: {meta['import_notes']}", ImuTempoWarning, stacklevel=3)
    for arr in (t, a) + ((g,) if g is not None else ()):
        arr.flags.writeable = False
    return Recording(path=name, t_s=t, accel=a, gyro=g, metadata=meta, fs_hz=float(f"{rate:.6g}"))


def expected(path: str, fmt: str, want: str, table: Table | None) -> RecordingError:
    """The error for a file that is not the export it was taken for."""
    found = f"; header found: {table.header_text()!r}" if table is not None else ""
    return RecordingError(f"not a {fmt} export: expected {want}{found}", path=path)
