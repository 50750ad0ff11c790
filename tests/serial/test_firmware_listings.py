"""The firmware listings in firmware_notes/ compile and produce streams imu-tempo decodes.

Each sketch is extracted from its Markdown page, compiled with the host C++ compiler against a
small stand-in of the Arduino API (Serial, Wire, micros), and run against a register-level model
of its IMU (MPU-6050 or LSM6DS*) that produces a known motion.  Its output bytes go through
imu-tempo's own decoder.  Skipped where no C++ compiler is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from imu_tempo.sources.wire import WireDecoder
from imu_tempo.types import SampleBlock

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "firmware_notes" / "boards"
CXX = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")

pytestmark = pytest.mark.skipif(CXX is None, reason="no C++ compiler to build the firmware listings")

# A stand-in for the Arduino API plus register models of the two IMUs.  Simulated time advances
# with every I2C byte (400 kHz: 25 us) so that polling loops make progress.
ARDUINO = r"""
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#define HEX 16
static uint64_t sim_us = 1000;
uint32_t micros() { return (uint32_t)sim_us; }
uint32_t millis() { return (uint32_t)(sim_us / 1000); }
void delay(uint32_t ms) { sim_us += 1000ull * ms; }
struct SerialT {
  void begin(long) {}
  operator bool() { return true; }
  int availableForWrite() { return 4096; }
  size_t write(uint8_t b) { fputc(b, stdout); return 1; }
  size_t write(const uint8_t *b, size_t n) { fwrite(b, 1, n, stdout); return n; }
  void print(const char *s) { fputs(s, stdout); }
  void print(char c) { fputc(c, stdout); }
  void print(int v, int base = 10) { printf(base == 16 ? "%X" : "%d", v); }
  void print(unsigned v, int base = 10) { printf(base == 16 ? "%X" : "%u", v); }
  void print(long v, int base = 10) { printf(base == 16 ? "%lX" : "%ld", v); }
  void print(unsigned long v, int base = 10) { printf(base == 16 ? "%lX" : "%lu", v); }
  void print(double v, int digits = 2) { printf("%.*f", digits, v); }
  void println() { fputs("\r\n", stdout); }
  template <typename T> void println(T v) { print(v); println(); }
  template <typename T> void println(T v, int f) { print(v, f); println(); }
} Serial;

static const double G_TRUE[3] = {0.1, -0.2, 1.0};  // g
double sim_t() { return sim_us / 1e6; }
double accel_g(int axis) { return G_TRUE[axis] + (axis == 2 ? 0.5 * sin(2 * M_PI * sim_t()) : 0.0); }
double gyro_dps(int axis) { return axis == 0 ? 100.0 * sin(2 * M_PI * sim_t()) : 0.0; }

struct Model {
  uint8_t reg[256];
  uint64_t next_us = 0;
  Model() { memset(reg, 0, sizeof reg); }
  double period_us() {
#ifdef MODEL_MPU
    return 1000.0 * (1 + reg[0x19]);
#else
    static const double odr[] = {0, 12.5, 26, 52, 104, 208, 416, 833, 1660};
    int code = reg[0x10] >> 4;
    return code ? 1e6 / odr[code] : 1e9;
#endif
  }
  bool ready() { return sim_us >= next_us; }
  void latch() {  // the sample whose ready flag was seen becomes the output registers
    int16_t a[3], g[3];
#ifdef MODEL_MPU
    for (int i = 0; i < 3; i++) { a[i] = (int16_t)lround(accel_g(i) * 2048); g[i] = (int16_t)lround(gyro_dps(i) * 16.4); }
    for (int i = 0; i < 3; i++) { reg[0x3B + 2 * i] = a[i] >> 8; reg[0x3C + 2 * i] = a[i] & 0xFF; }
    reg[0x41] = 0; reg[0x42] = 0;
    for (int i = 0; i < 3; i++) { reg[0x43 + 2 * i] = g[i] >> 8; reg[0x44 + 2 * i] = g[i] & 0xFF; }
#else
    for (int i = 0; i < 3; i++) { a[i] = (int16_t)lround(accel_g(i) / 0.000488); g[i] = (int16_t)lround(gyro_dps(i) / 0.070); }
    for (int i = 0; i < 3; i++) { reg[0x22 + 2 * i] = g[i] & 0xFF; reg[0x23 + 2 * i] = g[i] >> 8; }
    for (int i = 0; i < 3; i++) { reg[0x28 + 2 * i] = a[i] & 0xFF; reg[0x29 + 2 * i] = a[i] >> 8; }
#endif
    uint64_t p = (uint64_t)period_us();
    next_us = (sim_us / p + 1) * p;
  }
  uint8_t read(uint8_t r) {
#ifdef MODEL_MPU
    if (r == 0x75) return 0x68;
    if (r == 0x3A) { if (ready()) { latch(); return 1; } return 0; }
#else
    if (r == 0x0F) return 0x6C;
    if (r == 0x1E) { if (ready()) { latch(); return 3; } return 0; }
#endif
    return reg[r];
  }
  void write(uint8_t r, uint8_t v) { reg[r] = v; if (r == 0x19 || r == 0x10) next_us = sim_us; }
} model;

struct WireT {
  uint8_t tx[16]; int txn = 0; uint8_t ptr = 0; uint8_t rx[32]; int rxn = 0, rxi = 0;
  void begin() {}
  void setClock(long) {}
  void beginTransmission(uint8_t) { txn = 0; }
  size_t write(uint8_t b) { tx[txn++] = b; sim_us += 25; return 1; }
  uint8_t endTransmission(bool = true) {
    ptr = tx[0];
    for (int i = 1; i < txn; i++) model.write(ptr + i - 1, tx[i]);
    sim_us += 50;
    return 0;
  }
  uint8_t requestFrom(uint8_t, uint8_t n) {
    for (int i = 0; i < n; i++) rx[i] = model.read(ptr + i);
    rxn = n; rxi = 0; sim_us += 50 + 25 * n;
    return n;
  }
  int read() { return rxi < rxn ? rx[rxi++] : -1; }
} Wire;
"""

MAIN = r"""
int main() {
  setup();
  while (sim_us < 6000000ull) loop();
  return 0;
}
"""


def listings() -> list[tuple[str, str]]:
    out = []
    for md in sorted(BOARDS.glob("*.md")):
        for k, code in enumerate(re.findall(r"```cpp\n(.*?)```", md.read_text(), re.S)):
            out.append((f"{md.stem}#{k}", code))
    return out


def build_and_run(tmp_path: Path, name: str, code: str) -> bytes:
    model = "MODEL_MPU" if "0x3B" in code else "MODEL_LSM"
    src = tmp_path / "sketch.cpp"
    src.write_text(ARDUINO + code.replace("#include <Wire.h>", "").replace("#include <string.h>", "") + MAIN)
    exe = tmp_path / "sketch"
    assert CXX is not None
    r = subprocess.run([CXX, "-std=c++17", "-O1", f"-D{model}", "-o", str(exe), str(src)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{name} does not compile:\n{r.stderr}"
    return subprocess.run([str(exe)], capture_output=True, timeout=60, check=True).stdout


def test_there_are_two_boards_or_more() -> None:
    assert len(list(BOARDS.glob("*.md"))) >= 2
    assert len(listings()) >= 3


@pytest.mark.parametrize("name, code", listings(), ids=[n for n, _ in listings()])
def test_listing_streams_what_imu_tempo_decodes(tmp_path: Path, name: str, code: str) -> None:
    data = build_and_run(tmp_path, name, code)
    d = WireDecoder(source_name=name, accel_unit="g", gyro_unit="deg/s")
    items = []
    for i in range(0, len(data), 512):
        items += d.feed(data[i:i + 512], host_time_s=0.0)
    blocks = [b for b in items if isinstance(b, SampleBlock)]
    s = d.stats()
    assert s.corrupt_frames == 0 and s.dropped_samples == 0 and s.restarts == 0, s
    assert s.channels == 6
    fs = blocks[0].fs_hz
    t = np.concatenate([b.t_s for b in blocks])
    accel = np.concatenate([b.accel for b in blocks])
    gyro = np.concatenate([b.gyro for b in blocks])
    assert len(t) >= 0.95 * fs * 5.5  # about 6 s of simulated time, nothing lost
    assert np.all(np.diff(t) > 0)
    assert np.median(np.diff(t)) == pytest.approx(1 / fs, rel=0.02)
    # The known motion comes back in SI units: |a| about 1 g +- 0.5 g, gyro x swings +-100 deg/s.
    np.testing.assert_allclose(np.median(accel[:, :2], axis=0), [0.1 * 9.80665, -0.2 * 9.80665], atol=0.05)
    assert 1.4 * 9.80665 < accel[:, 2].max() < 1.6 * 9.80665
    assert 95 < np.degrees(gyro[:, 0]).max() < 105
    if s.format == "binary":
        assert s.device_name


def test_reference_c_matches_the_test_vectors(tmp_path: Path) -> None:
    """packet_format.md section 4 compiles and reproduces section 3's bytes exactly."""
    doc = (ROOT / "firmware_notes" / "packet_format.md").read_text()
    code = re.search(r"## 4\. Reference C.*?```c\n(.*?)```", doc, re.S)
    vectors = re.findall(r"COBS  : ([0-9a-f ]+)\n", doc)
    assert code and len(vectors) == 3
    harness = r"""
#include <stdio.h>
#include <stdint.h>
#include <stddef.h>
struct { void write(const uint8_t *b, size_t n) { for (size_t i = 0; i < n; i++) printf("%02x ", b[i]); printf("\n"); } } Serial;
""" + code.group(1) + r"""
int main() {
  printf("%04x\n", crc16_ccitt((const uint8_t *)"123456789", 9));
  send_header(400.0f, 6, 1.0f / 2048, 1.0f / 16.4f, "wrist");
  int16_t s[12] = {0, 0, 2048, 16, -16, 0, 1, -1, 2047, 0, 0, 164};
  send_samples(258, 1000000, s, 2, 6);
  uint8_t text[3] = {0x03, 'o', 'k'};
  send_packet(text, 3);
  return 0;
}
"""
    src = tmp_path / "ref.cpp"
    src.write_text(harness)
    exe = tmp_path / "ref"
    assert CXX is not None
    subprocess.run([CXX, "-std=c++17", "-o", str(exe), str(src)], check=True, capture_output=True, timeout=120)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "29b1"
    assert [line.strip() for line in out[1:4]] == [v.strip() for v in vectors]
