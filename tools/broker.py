"""Start a private MQTT broker on loopback (tests, demo). Nothing is left running after stop().

mosquitto when it is installed; otherwise (the demo on a machine without it) amqtt, a
pure-Python broker, in a child process."""
from __future__ import annotations

import os
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
    kind = "mosquitto"

    def __init__(self, port: int | None = None, binary: str | None = None, tls: tuple | None = None):
        """tls: (CA certificate, server certificate, server key) PEM files for a TLS listener."""
        self.binary = binary or find_mosquitto()
        if not self.binary:
            raise FileNotFoundError("mosquitto not found; " + INSTALL_HINT)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._dir = tempfile.TemporaryDirectory(prefix="thermocc-broker-")
        self.conf = Path(self._dir.name) / "mosquitto.conf"
        if tls:
            # mosquitto started as root reads certificates after dropping to its own user:
            # give it copies it can read (throwaway test material, in the broker's folder)
            os.chmod(self._dir.name, 0o711)
            copies = []
            for name, src in zip(("ca.pem", "server.pem", "server.key"), tls):
                dst = Path(self._dir.name) / name
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o644)
                copies.append(dst)
            tls = copies
        self.conf.write_text("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                             "max_queued_messages 100000\nmax_inflight_messages 100\n" % self.port
                             + ("cafile %s\ncertfile %s\nkeyfile %s\n" % tuple(tls) if tls else ""))
        self.log_path = Path(self._dir.name) / "mosquitto.log"
        self.proc = None

    def command(self):
        return [self.binary, "-c", str(self.conf)]

    def start(self, timeout_s: float = 10.0) -> "MosquittoBroker":
        self.proc = subprocess.Popen(self.command(), stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start: " % self.kind + self.log_path.read_text()[-2000:])
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not listen on port %d within %.0f s" % (self.kind, self.port, timeout_s))

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


_AMQTT_MAIN = """
import asyncio, sys
from amqtt.broker import Broker
async def main(port):
    broker = Broker({"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:%d" % port}},
                     "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}})
    await broker.start()
    await asyncio.Event().wait()
asyncio.run(main(int(sys.argv[1])))
"""


class AmqttBroker(MosquittoBroker):
    """The same interface over amqtt (pure Python), for machines without mosquitto."""
    kind = "amqtt"

    def __init__(self, port: int | None = None):
        import sys
        self.binary = sys.executable
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._dir = tempfile.TemporaryDirectory(prefix="thermocc-broker-")
        self.log_path = Path(self._dir.name) / "amqtt.log"
        self.proc = None

    def command(self):
        return [self.binary, "-c", _AMQTT_MAIN, str(self.port)]


def start_embedded_broker(prefer: str | None = None):
    """mosquitto if installed (or prefer="mosquitto"), else amqtt; started and listening."""
    if prefer != "amqtt" and find_mosquitto():
        return MosquittoBroker().start()
    try:
        import amqtt  # noqa: F401
    except ImportError:
        raise FileNotFoundError("no MQTT broker available: " + INSTALL_HINT + ", or pip install amqtt")
    return AmqttBroker().start(timeout_s=30)
