"""Bring a board's SD logs home: over USB (mpremote) or over the network (MQTT).

Both store into logs/<node>/ the same way:
- only new or grown files are fetched (logs are append-only, so a grown file is fetched
  from where the local copy ends);
- data lands in logs/<node>/.partial/<file>.part, every chunk checked (CRC32 and offset)
  before it is appended, so an interrupted pull resumes where it stopped;
- a file is moved into place only when all of it is verified (USB: SHA-256 computed on
  the board over the same bytes; network: every chunk's CRC32, contiguous offsets and
  the announced size), so nothing half-copied ever looks complete;
- then the folder is decoded into logs/<node>/decoded/ (blobs.jsonl, frames.csv,
  damage.txt) with thermocc.logreader.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from thermocc_tools.deploy import MARK, FieldError, Runner, mpremote, probe_port, report, run_on_board

CHUNK = 768          # bytes per line over USB: 1 KB of base64


class LocalFile:
    """One log file's local state: the verified copy and the resumable partial."""

    def __init__(self, dest, name):
        self.final = Path(dest) / name
        self.part = Path(dest) / ".partial" / (name + ".part")
        self.name = name

    def have(self):
        if self.part.exists():
            return self.part.stat().st_size
        return self.final.stat().st_size if self.final.exists() else 0

    def start(self, remote_size, log):
        """Offset to fetch from; prepares the .part file."""
        self.part.parent.mkdir(parents=True, exist_ok=True)
        if not self.part.exists() and self.final.exists():
            self.part.write_bytes(self.final.read_bytes())
        have = self.part.stat().st_size if self.part.exists() else 0
        if have > remote_size:
            log("%s: the board's copy (%d bytes) is shorter than ours (%d); fetching it again from the start"
                % (self.name, remote_size, have))
            self.part.write_bytes(b"")
            have = 0
        return have

    def append(self, offset, data):
        size = self.part.stat().st_size if self.part.exists() else 0
        if offset != size:
            raise ValueError("chunk at byte %d but %d bytes are stored" % (offset, size))
        with open(self.part, "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def finish(self, sha256_hex=None, size=None):
        data = self.part.read_bytes() if self.part.exists() else b""
        if size is not None and len(data) != size:
            raise ValueError("%d of %d bytes" % (len(data), size))
        if sha256_hex is not None and hashlib.sha256(data[:size]).hexdigest() != sha256_hex:
            self.part.unlink()
            raise ValueError("SHA-256 differs from the board's; it will be fetched again from the start")
        if not self.part.exists():
            self.part.write_bytes(b"")
        os.replace(self.part, self.final)


def progress(done, total, started):
    from thermocc_tools.room_chain import progress_bar    # the project's one progress bar
    progress_bar(done, total, started, what="%d of %d bytes" % (done, total))


LIST_CODE = """import os, json
try:
    cfg = json.load(open('/config.json'))
except (OSError, ValueError):
    cfg = {}
node = cfg.get('node') or ''
folder = '/sd/' + ((cfg.get('sd') or {}).get('folder') or 'thermocc')
if 'sd' not in os.listdir('/'):
    try:
        from thermocc_device.hardware import mount_sd
        mount_sd(json.load(open('/board.json')), print)
    except Exception as e:
        print('%(m)smount|%%s' %% e)
print('%(m)snode|' + node)
print('%(m)sfolder|' + folder)
try:
    st = os.statvfs('/sd')
    print('%(m)sfree|%%d|%%d' %% (st[0] * st[3], st[0] * st[2]))
except OSError:
    pass
try:
    for e in os.ilistdir(folder):
        if e[0].endswith('.tlg'):
            print('%(m)sfile|%%s|%%d' %% (e[0], os.stat(folder + '/' + e[0])[6]))
except OSError as e:
    print('%(m)snolog|%%s' %% e)
"""

SEND_CODE = """import binascii, hashlib
for name, off, end in %(jobs)r:
    p = %(folder)r + '/' + name
    f = open(p, 'rb')
    f.seek(off)
    pos = off
    while pos < end:
        b = f.read(min(%(chunk)d, end - pos))
        if not b:
            break
        print('%(m)sc|%%s|%%d|%%d|%%s' %% (name, pos, binascii.crc32(b) & 0xffffffff, binascii.b2a_base64(b).decode().strip()))
        pos += len(b)
    f.seek(0)
    h = hashlib.sha256()
    n = end
    while n > 0:
        b = f.read(min(1024, n))
        if not b:
            break
        h.update(b)
        n -= len(b)
    f.close()
    print('%(m)sh|%%s|%%d|%%s' %% (name, end, binascii.hexlify(h.digest()).decode()))
"""


def pull_usb(port, out="logs", node=None, dry_run=False, decode=True, log=print):
    runner = Runner(dry_run, log)
    if not dry_run:
        probe_port(port)
    lines = run_on_board(runner, port, LIST_CODE % {"m": MARK}, resume=False, what="listing the card")
    if dry_run:
        runner.show(mpremote(port, "exec", "<send new bytes of each log file>", resume=True))
        return None
    info = {}
    files = {}
    for l in lines:
        if l[0] == "file":
            files[l[1]] = int(l[2])
        elif l[0] in ("node", "folder", "mount", "nolog"):
            info[l[0]] = l[1]
        elif l[0] == "free":
            info["free"], info["total"] = int(l[1]), int(l[2])
    board_node = info.get("node") or ""
    if not board_node:
        raise FieldError("the board on %s has no /config.json with a node id; deploy it first: make deploy "
                         "BOARD=<board> PORT=%s NODE=<node>" % (port, port))
    if node and node != board_node:
        raise FieldError("the board on %s is %s, not %s; check PORT or drop NODE" % (port, board_node, node))
    if "nolog" in info or "mount" in info:
        raise FieldError("no SD card logs on %s (%s); check the card is inserted, then retry"
                         % (board_node, info.get("mount") or info.get("nolog")))
    if "free" in info and info["free"] < 512 * 1024:
        log("warning: the card of %s is full (%d KB free of %d KB): the board deletes its oldest logs to go on; "
            "pull more often or fit a bigger card" % (board_node, info["free"] // 1024, info["total"] // 1024))
    dest = Path(out) / board_node
    dest.mkdir(parents=True, exist_ok=True)
    local = {name: LocalFile(dest, name) for name in files}
    jobs = []
    for name in sorted(files):
        size = files[name]
        lf = local[name]
        if not lf.part.exists() and lf.final.exists() and lf.final.stat().st_size == size:
            continue
        jobs.append([name, lf.start(size, log), size])
    total = sum(end - off for _, off, end in jobs)
    log("%s: %d log files on the card, %d to fetch (%d bytes), into %s" % (board_node, len(files), len(jobs), total, dest))
    problems = []
    if jobs:
        problems = _receive_usb(runner, port, jobs, info["folder"], local, total, log)
    if decode:
        _decode(dest, board_node, log)
    try:
        runner.run(mpremote(port, "reset", resume=True), capture=True, what="restarting the board")
    except FieldError as e:
        if not problems:
            raise FieldError("%s; the logs are pulled, press the board's reset button to restart it" % e) from None
    if problems:
        raise FieldError("%d file(s) not complete: %s; run the same command again to resume (verified data is kept)"
                         % (len(problems), "; ".join(problems)))
    return dest


def _receive_usb(runner, port, jobs, folder, local, total, log):
    cmd = mpremote(port, "exec", SEND_CODE % {"jobs": jobs, "folder": folder, "chunk": CHUNK, "m": MARK}, resume=True)
    runner.show(cmd)
    started = time.monotonic()
    done = 0
    problems = []
    finished = set()
    proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    broken = set()
    for line in proc.stdout:
        if not line.startswith(MARK):
            continue
        parts = line[len(MARK):].strip().split("|")
        name = parts[1] if len(parts) > 1 else ""
        if name not in local or name in broken:
            continue
        try:
            if parts[0] == "c":
                offset, crc, data = int(parts[2]), int(parts[3]), base64.b64decode(parts[4], validate=True)
                if binascii.crc32(data) & 0xFFFFFFFF != crc:
                    raise ValueError("chunk at byte %d failed its CRC32" % offset)
                local[name].append(offset, data)
                done += len(data)
                progress(min(done, total), total, started)
            elif parts[0] == "h":
                local[name].finish(parts[3], int(parts[2]))
                finished.add(name)
        except (ValueError, IndexError, binascii.Error) as e:
            broken.add(name)
            problems.append("%s: %s" % (name, e))
    err = proc.stderr.read()
    proc.wait()
    missing = [name for name, _, _ in jobs if name not in finished and name not in broken]
    if proc.returncode != 0 or missing:
        sys.stderr.write("\n")
        reason = err.strip().splitlines()[-1] if err.strip() else "mpremote exit %d" % proc.returncode
        problems.extend("%s: connection lost (%s)" % (name, reason) for name in missing)
    log("received %d bytes, %d of %d files complete" % (done, len(finished), len(jobs)))
    return problems


def _decode(dest, node, log):
    from thermocc.logreader import decode_folder
    res = decode_folder(dest, dest / "decoded", node)
    log("decoded %s: %d records, %d blob messages -> decoded/blobs.jsonl, %d raw frames%s"
        % (node, res["records"], res["blobs"], res["frames"], " -> decoded/frames.csv" if res["frames"] else ""))
    for d in res["damage"]:
        log("damaged: %s at byte %d: %s (the rest of the file was recovered)" % (d.file, d.offset, d.reason))
    return res


# -- over the network ------------------------------------------------------------------------
def pull_network(site_path, node, out="logs", timeout_s=30.0, decode=True, log=print):
    """Ask a node for its logs on its command topic and store the chunks it sends."""
    import threading

    import paho.mqtt.client as mqtt
    from thermocc.site import load_site

    site = load_site(site_path)
    room = next((r for r in site.rooms for c in r.cameras if c.node == node), None)
    if room is None:
        raise FieldError("no room of %s has cameras on node %r; nodes: %s" % (site_path, node, ", ".join(
            sorted({c.node for r in site.rooms for c in r.cameras}))))
    base = "%s/%s/%s/%s" % (site.mqtt.prefix, room.site, room.name, node)
    lock = threading.Condition()
    replies, chunks = {}, []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="thermocc-pull-%s" % uuid.uuid4().hex[:8])
    if site.mqtt.user:
        client.username_pw_set(site.mqtt.user, site.mqtt.password)
    if site.mqtt.tls:
        client.tls_set()

    def on_message(_c, _u, msg):
        try:
            data = json.loads(msg.payload)
        except ValueError:
            return
        with lock:
            if msg.topic.endswith("/logs"):
                chunks.append(data)
            elif isinstance(data, dict) and "id" in data:
                replies[data["id"]] = data
            lock.notify_all()

    subscribed = threading.Event()
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    try:
        client.connect(site.mqtt.host, site.mqtt.port, 30)
    except OSError as e:
        raise FieldError("cannot reach the broker %s:%d (%s); check the site file's mqtt section"
                         % (site.mqtt.host, site.mqtt.port, e)) from None
    client.subscribe([(base + "/reply", 1), (base + "/logs", 1)])
    client.loop_start()
    try:
        if not subscribed.wait(10):
            raise FieldError("the broker did not confirm the subscription; check it is running")

        def ask(cmd, until):
            cid = uuid.uuid4().hex[:12]
            cmd["id"] = cid
            client.publish(base + "/cmd", json.dumps(cmd), qos=1)
            end = time.monotonic() + timeout_s
            with lock:
                while not until(cid):
                    left = end - time.monotonic()
                    if left <= 0:
                        return cid, False
                    lock.wait(min(left, 0.5))
            return cid, True

        cid, ok = ask({"cmd": "list_logs"}, lambda c: c in replies)
        if not ok:
            raise FieldError("%s did not answer list_logs within %.0f s; is it online (topic %s/availability)?"
                             % (node, timeout_s, base))
        reply = replies[cid]
        if not reply.get("ok") or not reply.get("sd", True):
            raise FieldError("%s has no SD card logs to send (%s)" % (node, reply.get("error", "no card")))
        files = {name: size for name, size in reply.get("files", [])}
        dest = Path(out) / node
        dest.mkdir(parents=True, exist_ok=True)
        local = {name: LocalFile(dest, name) for name in files}
        jobs = [(n, s) for n, s in sorted(files.items())
                if local[n].part.exists() or not local[n].final.exists() or local[n].final.stat().st_size != s]
        starts = {n: local[n].start(s, log) for n, s in jobs}
        total = sum(s - starts[n] for n, s in jobs)
        log("%s: %d log files, %d to fetch (%d bytes) over MQTT into %s" % (node, len(files), len(jobs), total, dest))
        started, done, problems = time.monotonic(), 0, []
        for name, size in jobs:
            lf = local[name]
            offset = starts[name]
            if offset >= size:
                lf.finish(size=size)
                continue
            cid = None
            with lock:
                chunks.clear()
            cid, ok = ask({"cmd": "send_log", "name": name, "offset": offset}, lambda c: c in replies)
            if not ok or not replies[cid].get("ok"):
                problems.append("%s: %s" % (name, replies.get(cid, {}).get("error", "no answer")))
                continue
            # The file may have grown since list_logs: the node sends up to its size now.
            grown = replies[cid].get("size", size) - size
            if grown > 0:
                total += grown
                size += grown
            last_seen = time.monotonic()
            complete = False
            while not complete and time.monotonic() - last_seen < timeout_s:
                with lock:
                    if not chunks:
                        lock.wait(0.5)
                    got, chunks[:] = list(chunks), []
                for c in got:
                    if c.get("id") != cid:
                        continue
                    data = base64.b64decode(c["data"])
                    if binascii.crc32(data) & 0xFFFFFFFF != c["crc32"]:
                        problems.append("%s: chunk at byte %d failed its CRC32" % (name, c["offset"]))
                        complete = None
                        break
                    if c["offset"] < lf.have():
                        continue          # a QoS 1 duplicate
                    lf.append(c["offset"], data)
                    done += len(data)
                    last_seen = time.monotonic()
                    progress(min(done, total), total, started)
                    if c.get("last"):
                        complete = True
                if complete is None:
                    break
            if complete:
                try:
                    lf.finish(size=size)
                except ValueError as e:
                    problems.append("%s: %s" % (name, e))
            elif complete is False:
                problems.append("%s: no data for %.0f s" % (name, timeout_s))
    finally:
        client.loop_stop()
        client.disconnect()
    if decode:
        _decode(dest, node, log)
    if problems:
        raise FieldError("%d file(s) not complete: %s; run the same command again to resume (verified data is kept)"
                         % (len(problems), "; ".join(problems)))
    return dest


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="thermocc pull", description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


def add_arguments(ap):
    ap.add_argument("--port", default="", help="serial port of the board (USB)")
    ap.add_argument("--node", default=None, help="node id (required with --network; checked over USB)")
    ap.add_argument("--network", action="store_true", help="ask the node over MQTT instead of USB")
    ap.add_argument("--site", default="site.json", help="site file (broker and rooms), for --network")
    ap.add_argument("--out", default="logs", help="folder for logs/<node>/")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a node's answer (--network)")
    ap.add_argument("--no-decode", action="store_true", help="only copy the files")
    ap.add_argument("--dry-run", action="store_true", help="print what would run")


def run(a):
    from thermocc.room import RoomConfigError
    try:
        if a.network:
            if not a.node:
                raise FieldError("--network needs --node (the node id, e.g. node-a)")
            pull_network(a.site, a.node, a.out, a.timeout, not a.no_decode)
        else:
            pull_usb(a.port, a.out, a.node, a.dry_run, not a.no_decode)
    except (FieldError, RoomConfigError) as e:
        return report(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
