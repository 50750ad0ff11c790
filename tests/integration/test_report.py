"""``imu-tempo report``: one self-contained HTML page and a PNG, from a recording or an export."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from imu_tempo.cli import main
from imu_tempo.errors import ConfigError
from imu_tempo.report import data_quality, verdicts
from imu_tempo.sources.recording import saturated
from imu_tempo.sources.recording import Recording

ROOT = Path(__file__).parents[2]
PUSH_PRESS = ROOT / "recordings" / "sim_push_press.csv"


def cli(capsys, monkeypatch, *argv):
    monkeypatch.setattr(sys, "argv", [sys.argv[0]])
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    html_path, png_path = d / "session.html", d / "session.png"
    sys_argv = sys.argv
    try:
        sys.argv = [sys_argv[0]]
        code = main(["report", str(PUSH_PRESS), "--measure", "concentric", "-o", str(html_path), "--png", str(png_path)])
    finally:
        sys.argv = sys_argv
    return code, html_path, png_path


def test_html_is_self_contained_and_says_the_verdict(rendered):
    code, html_path, _ = rendered
    assert code == 0
    page = html_path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", page), "no network references"
    assert "<script" not in page
    imgs = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(imgs) == 1 and len(imgs[0]) > 10_000
    # the simulator's truth: first failing rep 4 in set 1 and 7 in set 2 (concentric measure)
    assert "Set 1: 6 reps. Tempo failure at rep 4" in page
    assert "Set 2: 8 reps. Tempo failure at rep 7" in page
    assert page.count("<h2>Set ") == 2 and "<h2>Data quality</h2>" in page
    assert page.count("<tr class='fail'>") >= 2


def test_png_is_a_readable_image(rendered):
    _, _, png_path = rendered
    import matplotlib.image as mpimg

    data = png_path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 400_000
    img = mpimg.imread(png_path)
    assert img.shape[1] == 1200 and img.shape[0] > 600
    assert img[..., :3].std() > 0.05  # not blank


def test_report_from_an_export(tmp_path, capsys, monkeypatch):
    fix = ROOT / "tests" / "importers" / "fixtures"
    code, out, _ = cli(capsys, monkeypatch, "report", str(fix / "sensorlogger"), "--png", str(tmp_path / "r.png"))
    assert code == 0 and "No reps were found" in out and (tmp_path / "r.png").exists()


def test_needs_an_output(capsys, monkeypatch):
    code, _, err = cli(capsys, monkeypatch, "report", str(PUSH_PRESS))
    assert code == 2 and "-o REPORT.html" in err


def test_missing_matplotlib_names_the_extra(monkeypatch):
    import imu_tempo.report as report

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ConfigError, match=r"pip install 'imu-tempo\[plot\]'"):
        report._pyplot()


def _rec(t, a, g=None):
    return Recording(path="x", t_s=t, accel=a, gyro=g, metadata={}, fs_hz=100.0)


def test_quality_counts_gaps_jitter_and_clipping():
    t = np.arange(1000) / 100.0
    t = np.delete(t, np.arange(500, 520))  # a 0.2 s gap
    a = np.tile([0.0, 0.0, 9.81], (t.size, 1))
    a[100:110, 0] = 156.9  # 16 g full scale held for 10 samples
    a[300, 0] = 100.0
    q = data_quality(_rec(t, a))
    assert q.gaps == 1 and q.gap_total_s == pytest.approx(0.21, abs=1e-9)
    assert q.clipped_accel == 10 and q.clip_level_mps2 == pytest.approx(156.9)
    assert q.jitter_ms < 1e-6 and q.measured_hz == pytest.approx(100)
    assert any("clipped" in p for p in q.problems())


def test_a_brief_peak_is_not_clipping():
    a = np.zeros((50, 3))
    a[10, 1] = 30.0
    rows, level = saturated(a)
    assert not rows.any() and level is None


def test_verdict_sentence_names_the_reason():
    res = {"settings": {"measure": "rep", "threshold_s": 1.2, "slowdown": 0.25},
           "sets": [{"index": 1, "rep_count": 3, "first_failure_rep": 3, "failure_reason": "absolute",
                     "reps": [{"duration_s": 1.0}, {"duration_s": 1.1}, {"duration_s": 1.31, "reference_s": 1.0}]}]}
    assert verdicts(res) == ["Set 1: 3 reps. Tempo failure at rep 3: its rep took 1.31 s, over the 1.2 s limit."]
