"""Start a private mosquitto on loopback (tests, demo). Nothing is left running after stop()."""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_HINT = "install it with: sudo apt-get install -y mosquitto (or brew install mosquitto)"


def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")
         if Path(p).exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MosquittoBroker:
    def __init__(self, port: int | None = None, binary: str | None = None):
        self.binary = binary or find_mosquitto()
        if not self.binary:
            raise FileNotFoundError("mosquitto not found; " + INSTALL_HINT)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._dir = tempfile.TemporaryDirectory(prefix="thermocc-broker-")
        self.conf = Path(self._dir.name) / "mosquitto.conf"
        self.conf.write_text("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                             "max_queued_messages 100000\nmax_inflight_messages 100\n" % self.port)
        self.log_path = Path(self._dir.name) / "mosquitto.log"
        self.proc = None

    def start(self, timeout_s: float = 10.0) -> "MosquittoBroker":
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=open(self.log_path, "ab"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited at start: " + self.log_path.read_text()[-2000:])
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("mosquitto did not listen on port %d within %.0f s" % (self.port, timeout_s))

    def kill(self):
        """Hard stop, as a crashed or rebooted broker."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self):
        self.kill()
        return self.start()

    def close(self):
        self.stop()
        self._dir.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
