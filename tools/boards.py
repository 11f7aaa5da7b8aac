"""Board definitions (boards/*.json): load, resolve `extends`, validate.

A definition is data: the chip esptool talks to, where the MicroPython firmware and its
filesystem live in flash, the two I2C buses (one per MLX90640), the SD card wiring and
the status LED. Every mistake is reported as `<file>: <field>: <what is wrong>; <fix>`.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

BOARDS_DIR = Path(__file__).resolve().parent.parent / "boards"

# What each chip needs: esptool's name, where its ROM loads the bootloader, the
# architecture mpy-cross compiles for, and its GPIO numbers.
CHIPS = {
    "esp32": {"image_chip_id": 0, "firmware_offset": 0x1000, "mpy_arch": "xtensawin",
              "gpio": set(range(0, 40)) - {20, 24, 28, 29, 30, 31}, "input_only": {34, 35, 36, 37, 38, 39},
              "flash_pins": {6, 7, 8, 9, 10, 11}},
    "esp32s3": {"image_chip_id": 9, "firmware_offset": 0x0, "mpy_arch": "xtensawin",
                "gpio": set(range(0, 22)) | set(range(26, 49)), "input_only": set(),
                "flash_pins": {26, 27, 28, 29, 30, 31, 32}},
}
CHIP_BY_IMAGE_ID = {v["image_chip_id"]: k for k, v in CHIPS.items()}
CHIP_BY_IMAGE_ID.update({2: "esp32s2", 5: "esp32c3", 13: "esp32c6"})
FLASH_SIZES = {"2MB": 2 << 20, "4MB": 4 << 20, "8MB": 8 << 20, "16MB": 16 << 20, "32MB": 32 << 20}
TOP_KEYS = {"name", "description", "extends", "chip", "micropython_build", "mpy_arch", "psram", "flash", "i2c",
            "sd", "led"}
FLASH_KEYS = {"size", "firmware_offset", "partition_table_offset", "app_offset", "vfs_offset", "vfs_size",
              "vfs_block_size"}
SPI_KEYS = {"slot", "sck", "mosi", "miso", "cs"}
SDMMC_KEYS = {"slot", "width"}


class BoardError(ValueError):
    def __init__(self, source, problems):
        self.source = str(source)
        self.problems = list(problems)
        super().__init__("\n".join("%s: %s" % (self.source, p) for p in self.problems))


def known_boards(folder=BOARDS_DIR):
    return sorted(p.stem for p in Path(folder).glob("*.json"))


def board_path(name, folder=BOARDS_DIR):
    p = Path(name)
    if p.suffix == ".json" and p.exists():
        return p
    p = Path(folder) / (name + ".json")
    if not p.exists():
        raise BoardError("BOARD=%s" % name, ["unknown board; known boards: %s (files in %s)"
                                             % (", ".join(known_boards(folder)) or "none", folder)])
    return p


def merge(base, over):
    """`over` on top of `base`: objects merge key by key, anything else replaces."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def _read(path):
    try:
        raw = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise BoardError(path, ["not valid JSON (line %d column %d: %s)" % (e.lineno, e.colno, e.msg)]) from None
    if not isinstance(raw, dict):
        raise BoardError(path, ["must be a JSON object {...}"])
    return raw


def load_board(name, folder=BOARDS_DIR):
    """The validated board definition (a dict; flash numbers as ints), `extends` resolved."""
    path = board_path(name, folder)
    raw = _read(path)
    chain = [path.stem]
    merged = raw
    while "extends" in merged and merged["extends"] is not None:
        parent = merged["extends"]
        if not isinstance(parent, str) or not (Path(folder) / (parent + ".json")).exists():
            raise BoardError(path, ["extends: %r is not a board in %s; known: %s"
                                    % (parent, folder, ", ".join(known_boards(folder)))])
        if parent in chain:
            raise BoardError(path, ["extends: loop %s" % " -> ".join(chain + [parent])])
        chain.append(parent)
        base = _read(Path(folder) / (parent + ".json"))
        child = dict(merged)
        child.pop("extends")
        merged = merge(base, child)
    return validate_board(merged, path)


def _int(v):
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        return int(v, 0)
    raise ValueError


def validate_board(raw, source="board"):
    problems = []
    add = problems.append
    for k in raw:
        if k not in TOP_KEYS:
            add("%s: unknown field; known: %s" % (k, ", ".join(sorted(TOP_KEYS))))
    board = {k: v for k, v in raw.items() if k != "extends"}
    for k in ("name", "chip", "flash", "i2c", "sd"):
        if k not in raw:
            add("%s: missing; every board gives name, chip, flash, i2c (two buses) and sd" % k)
    chip = raw.get("chip")
    spec = CHIPS.get(chip)
    if "chip" in raw and spec is None:
        add("chip: %r is not supported; use one of %s" % (chip, ", ".join(sorted(CHIPS))))
    arch = raw.get("mpy_arch", spec["mpy_arch"] if spec else None)
    if spec and arch != spec["mpy_arch"]:
        add("mpy_arch: %s runs %s code, not %r" % (chip, spec["mpy_arch"], arch))
    board["mpy_arch"] = arch

    flash = raw.get("flash")
    if isinstance(flash, dict):
        f = {}
        for k in flash:
            if k not in FLASH_KEYS:
                add("flash.%s: unknown field; known: %s" % (k, ", ".join(sorted(FLASH_KEYS))))
        size = flash.get("size")
        if size not in FLASH_SIZES:
            add("flash.size: %r; use one of %s" % (size, ", ".join(FLASH_SIZES)))
        f["size"] = size
        f["size_bytes"] = FLASH_SIZES.get(size, 0)
        for k in ("firmware_offset", "partition_table_offset", "app_offset", "vfs_offset", "vfs_size", "vfs_block_size"):
            try:
                f[k] = _int(flash.get(k))
            except (ValueError, TypeError):
                add("flash.%s: must be a number or hex string like \"0x1000\", got %r" % (k, flash.get(k)))
        if spec and "firmware_offset" in f and f["firmware_offset"] != spec["firmware_offset"]:
            add("flash.firmware_offset: the %s ROM loads the bootloader from 0x%x, not 0x%x"
                % (chip, spec["firmware_offset"], f["firmware_offset"]))
        if all(k in f for k in ("vfs_offset", "vfs_size", "vfs_block_size")) and f["size_bytes"]:
            if f["vfs_offset"] % f["vfs_block_size"] or f["vfs_size"] % f["vfs_block_size"]:
                add("flash.vfs_offset/vfs_size: must be multiples of vfs_block_size (%d)" % f["vfs_block_size"])
            if f["vfs_offset"] + f["vfs_size"] > f["size_bytes"]:
                add("flash.vfs_size: the filesystem (0x%x + 0x%x) runs past the %s flash"
                    % (f["vfs_offset"], f["vfs_size"], size))
        board["flash"] = f
    elif "flash" in raw:
        add("flash: must be an object with %s" % ", ".join(sorted(FLASH_KEYS)))

    pins = {}   # gpio -> field that uses it

    def pin(value, field, output=True):
        if not isinstance(value, int) or isinstance(value, bool):
            add("%s: must be a GPIO number, got %r" % (field, value))
            return
        if spec:
            if value not in spec["gpio"]:
                add("%s: GPIO%d does not exist on %s" % (field, value, chip))
                return
            if value in spec["flash_pins"]:
                add("%s: GPIO%d is wired to the flash chip on %s; pick another pin" % (field, value, chip))
            if output and value in spec["input_only"]:
                add("%s: GPIO%d is input-only on %s and cannot drive this signal" % (field, value, chip))
        if value in pins:
            add("%s: GPIO%d is already used by %s; give each signal its own pin" % (field, value, pins[value]))
        else:
            pins[value] = field

    buses = raw.get("i2c")
    if isinstance(buses, list) and len(buses) == 2:
        for i, bus in enumerate(buses):
            where = "i2c[%d]" % i
            if not isinstance(bus, dict):
                add("%s: must be an object {id, sda, scl, freq}" % where)
                continue
            for k in bus:
                if k not in ("id", "sda", "scl", "freq"):
                    add("%s.%s: unknown field; known: id, sda, scl, freq" % (where, k))
            for k in ("id", "sda", "scl"):
                if k not in bus:
                    add("%s.%s: missing" % (where, k))
            if bus.get("id") not in (0, 1):
                add("%s.id: the ESP32 has hardware I2C 0 and 1, got %r" % (where, bus.get("id")))
            if "sda" in bus:
                pin(bus["sda"], where + ".sda")
            if "scl" in bus:
                pin(bus["scl"], where + ".scl")
            freq = bus.get("freq", 400000)
            if not isinstance(freq, int) or not 10_000 <= freq <= 1_000_000:
                add("%s.freq: must be 10000..1000000 Hz (the MLX90640 allows up to 1 MHz), got %r" % (where, freq))
        if isinstance(buses[0], dict) and isinstance(buses[1], dict) and buses[0].get("id") == buses[1].get("id"):
            add("i2c[1].id: both buses use I2C %r; the two cameras need I2C 0 and 1" % buses[0].get("id"))
    elif "i2c" in raw:
        add("i2c: must list exactly two buses (one per camera), got %r" % (buses,))

    sd = raw.get("sd")
    if isinstance(sd, dict) and len(sd) == 1 and ("spi" in sd or "sdmmc" in sd):
        if "spi" in sd:
            s = sd["spi"] if isinstance(sd["spi"], dict) else {}
            for k in s:
                if k not in SPI_KEYS:
                    add("sd.spi.%s: unknown field; known: %s" % (k, ", ".join(sorted(SPI_KEYS))))
            for k in ("sck", "mosi", "miso", "cs"):
                if k not in s:
                    add("sd.spi.%s: missing" % k)
                else:
                    pin(s[k], "sd.spi." + k, output=(k != "miso"))
        else:
            s = sd["sdmmc"] if isinstance(sd["sdmmc"], dict) else {}
            for k in s:
                if k not in SDMMC_KEYS:
                    add("sd.sdmmc.%s: unknown field; known: slot, width" % k)
            if s.get("width", 1) not in (1, 4):
                add("sd.sdmmc.width: 1 or 4 data lines, got %r" % s.get("width"))
    elif "sd" in raw:
        add("sd: give the card wiring as {\"spi\": {sck, mosi, miso, cs}} or {\"sdmmc\": {slot, width}}")

    if raw.get("led") is not None:
        pin(raw["led"], "led")
    if "psram" in raw and not isinstance(raw["psram"], bool):
        add("psram: true or false, got %r" % (raw["psram"],))
    if problems:
        raise BoardError(source, problems)
    return board


# -- the firmware image ------------------------------------------------------------------
def image_chip(data):
    """Chip a firmware/bootloader image is built for (from its extended header), or None."""
    if len(data) < 24 or data[0] != 0xE9:
        return None
    chip_id = struct.unpack_from("<H", data, 12)[0]
    return CHIP_BY_IMAGE_ID.get(chip_id, "unknown chip id %d" % chip_id)


PART_MAGIC = 0x50AA


def parse_partition_table(data):
    """[(name, type, subtype, offset, size)] from a binary ESP-IDF partition table."""
    out = []
    for i in range(0, min(len(data), 0xC00), 32):
        magic, ptype, subtype, offset, size = struct.unpack_from("<HBBII", data, i)
        if magic != PART_MAGIC:
            break
        name = data[i + 12:i + 28].split(b"\0", 1)[0].decode("ascii", "replace")
        out.append((name, ptype, subtype, offset, size))
    return out


def encode_partition_table(rows):
    """The binary table for [(name, type, subtype, offset, size)] (with its MD5 entry)."""
    import hashlib
    body = b"".join(struct.pack("<HBBII16sI", PART_MAGIC, t, s, o, n, name.encode()[:16], 0)
                    for name, t, s, o, n in rows)
    md5 = b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(body).digest()
    return (body + md5).ljust(0xC00, b"\xff")


def firmware_vfs(firmware, board):
    """(offset, size) of the filesystem partition described by the partition table inside
    a MicroPython .bin (written at the board's firmware offset), or None if it has none."""
    f = board["flash"]
    at = f["partition_table_offset"] - f["firmware_offset"]
    for name, ptype, subtype, offset, size in parse_partition_table(firmware[at:at + 0xC00]):
        if name == "vfs" and ptype == 1:
            return offset, size
    return None
