"""Each board's config.json, generated from the site file.

The site file (docs/host.md) already names the rooms and, through each room's cameras,
which node serves which camera. Its `nodes` list adds what the boards need:

  "node_defaults": {                       # shared by every node; any config.json section
    "wifi": {"ssid": "building-iot", "password_env": "THERMOCC_WIFI_PASSWORD"},
    "mqtt": {"host": "192.168.1.10", "user": "thermocc-node", "password_env": "THERMOCC_NODE_PASSWORD"},
    "sd": {"raw_every": 8}
  },
  "nodes": [
    {"node": "node-a", "board": "esp32-wroom", "room": "lab",
     "cameras": [{"id": "cam1", "bus": 0}, {"id": "cam2", "bus": 1, "mask": [[20, 0, 23, 5]]}],
     "config": {"detection": {"threshold_c": 5.5}}}          # optional per-node overrides
  ]

Without `cameras`, a node gets the room file's cameras of that node, on bus 0 and 1 in
order. Secrets are read from the environment variables named by `*_env` fields, written
only into the generated file, and shown as *** everywhere else.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from thermocc.room import RoomConfigError, load_room, read_config_json
from thermocc_device import config as device_config
from thermocc_tools.boards import BoardError, load_board, merge

SECRET_FIELDS = {("wifi", "password"), ("mqtt", "password")}
NODE_KEYS = {"node", "board", "room", "cameras", "config"}


class NodeConfigError(ValueError):
    def __init__(self, source, problems):
        self.source = str(source)
        self.problems = list(problems)
        super().__init__("\n".join("%s: %s" % (self.source, p) for p in self.problems))


def _secrets(section, where, env, problems):
    """Replace `password_env` by the variable's value; never put the value in a message."""
    out = dict(section)
    name = out.pop("password_env", None)
    if name is not None:
        if "password" in section:
            problems.append("%s: give password or password_env, not both" % where)
        elif not isinstance(name, str) or name not in env:
            problems.append("%s.password_env: environment variable %s is not set; export it, e.g. "
                            "`read -s %s; export %s`" % (where, name, name, name))
        else:
            out["password"] = env[name]
    return out


def node_configs(site_path, only_node=None, env=None):
    """{node id: (config dict, board dict)} for the nodes of a site file, all validated."""
    env = os.environ if env is None else env
    site_path = Path(site_path)
    raw = read_config_json(site_path, "site file")
    problems = []
    nodes = raw.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise NodeConfigError(site_path, ["nodes: missing; list the boards as "
                                          "[{\"node\": \"node-a\", \"board\": \"esp32-wroom\", \"room\": \"lab\"}] "
                                          "(see docs/boards.md)"])
    defaults = raw.get("node_defaults", {})
    if not isinstance(defaults, dict):
        raise NodeConfigError(site_path, ["node_defaults: must be an object of config.json sections"])
    rooms = {}
    for rel in raw.get("rooms", []):
        path = Path(rel) if Path(rel).is_absolute() else site_path.parent / rel
        try:
            room = load_room(path)
        except RoomConfigError as e:
            raise NodeConfigError(site_path, ["rooms: %s" % p for p in str(e).splitlines()]) from None
        rooms[room.name] = room
    site_name = raw.get("site") or next(iter(rooms.values())).site if rooms else raw.get("site")
    seen = set()
    out = {}
    for i, n in enumerate(nodes):
        where = "nodes[%d]" % i
        if not isinstance(n, dict):
            problems.append("%s: must be an object with node, board, room" % where)
            continue
        for k in n:
            if k not in NODE_KEYS:
                problems.append("%s.%s: unknown field; known: %s" % (where, k, ", ".join(sorted(NODE_KEYS))))
        node_id = n.get("node")
        if not isinstance(node_id, str) or not node_id:
            problems.append("%s.node: the node id, e.g. \"node-a\"" % where)
            continue
        where = "nodes[%d] (%s)" % (i, node_id)
        if node_id in seen:
            problems.append("%s.node: %s is listed twice" % (where, node_id))
        seen.add(node_id)
        if only_node and node_id != only_node:
            continue
        try:
            board = load_board(n.get("board", ""))
        except BoardError as e:
            problems.append("%s.board: %s" % (where, "; ".join(e.problems)))
            continue
        room = rooms.get(n.get("room"))
        if room is None:
            problems.append("%s.room: %r is not one of the site's rooms (%s)"
                            % (where, n.get("room"), ", ".join(rooms) or "none listed in rooms"))
            continue
        room_cams = [c.id for c in room.cameras if c.node == node_id]
        cams = n.get("cameras")
        if cams is None:
            cams = [{"id": cid, "bus": b} for b, cid in enumerate(room_cams)]
        if not isinstance(cams, list):
            problems.append("%s.cameras: must be a list of {id, bus, ...}" % where)
            continue
        for j, cam in enumerate(cams):
            cid = cam.get("id") if isinstance(cam, dict) else None
            if cid not in room_cams:
                problems.append("%s.cameras[%d].id: room %s has no camera %r on %s (it has %s)"
                                % (where, j, room.name, cid, node_id, ", ".join(room_cams) or "none"))
            bus = cam.get("bus", 0) if isinstance(cam, dict) else None
            if not isinstance(bus, int) or not 0 <= bus < len(board["i2c"]):
                problems.append("%s.cameras[%d].bus: board %s has I2C buses 0..%d, got %r"
                                % (where, j, board["name"], len(board["i2c"]) - 1, bus))
            elif isinstance(cam, dict) and "freq" not in cam:
                cam["freq"] = board["i2c"][bus].get("freq", 400000)
        if not room_cams:
            problems.append("%s: room %s has no camera on node %s; add its cameras to the room file"
                            % (where, room.name, node_id))
        cfg = merge(defaults, n.get("config", {}) if isinstance(n.get("config"), dict) else {})
        for section in ("wifi", "mqtt"):
            if isinstance(cfg.get(section), dict):
                cfg[section] = _secrets(cfg[section], where + "." + section, env, problems)
        cfg.update({"site": site_name, "room": room.name, "node": node_id, "cameras": cams})
        if isinstance(cfg.get("wifi"), dict):
            cfg["wifi"].setdefault("hostname", "thermocc-" + node_id)
        _, device_problems, _ = device_config.validate(cfg)
        for p in device_problems:
            field = p.field
            if any(field == "%s.%s" % s for s in SECRET_FIELDS):
                problems.append("%s: %s: %s" % (where, field, "invalid (value hidden)"))
            else:
                problems.append("%s: config %s: %s" % (where, field, p.message))
        out[node_id] = (cfg, board)
    if only_node and only_node not in seen:
        problems.append("nodes: no node %r; the site has %s" % (only_node, ", ".join(sorted(seen))))
    if problems:
        raise NodeConfigError(site_path, problems)
    return out


def redacted(cfg):
    """The config with secrets replaced, for printing."""
    out = json.loads(json.dumps(cfg))
    for section, key in SECRET_FIELDS:
        if isinstance(out.get(section), dict) and out[section].get(key):
            out[section][key] = "***"
    return out


def board_json(board):
    """What the firmware reads as /board.json: only the wiring (hardware.py)."""
    return {k: board[k] for k in ("name", "chip", "i2c", "sd", "led") if k in board}


def write_node_files(site_path, out_dir, only_node=None, env=None, log=print):
    """Write <out>/<node>/config.json and board.json; returns {node: folder}."""
    written = {}
    for node_id, (cfg, board) in node_configs(site_path, only_node, env).items():
        folder = Path(out_dir) / node_id
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in (("config.json", cfg), ("board.json", board_json(board))):
            tmp = folder / (name + ".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
            os.chmod(tmp, 0o600)   # holds the WiFi and broker passwords
            os.replace(tmp, folder / name)
        log("%s: %s/config.json (board %s, room %s, cameras %s)"
            % (node_id, folder, board["name"], cfg["room"], ", ".join(c["id"] for c in cfg["cameras"])))
        written[node_id] = folder
    return written
