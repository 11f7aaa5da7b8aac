"""The host's site file: broker, rooms this daemon serves, where outputs and state go.

{
  "site": "campus",
  "mqtt": {"host": "127.0.0.1", "port": 1883, "prefix": "thermocc", "user": null,
           "password_env": "THERMOCC_MQTT_PASSWORD", "tls": false, "client_id": "thermocc-host",
           "discovery_prefix": "homeassistant"},
  "rooms": ["lab.json"],            # room files, relative to this file
  "outputs": "outputs",             # <outputs>/<room>/output.csv ...
  "state": "state",                 # journals, relative to this file
  "journal_keep_days": 90           # archived journal segments older than this are deleted (0: never)
}
Rooms may be split over several daemons: give each daemon a site file (or --room) with
its share; they can all use one broker (with --room and no explicit client_id, the client
id gets the room names appended, so the daemons keep separate sessions).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from thermocc.room import RoomConfigError, load_room, read_config_json

# nodes/node_defaults describe the boards (tools/nodeconfig.py); the daemon does not use them.
SITE_KEYS = {"site", "mqtt", "rooms", "outputs", "state", "journal_keep_days", "description", "nodes",
             "node_defaults"}
MQTT_KEYS = {"host", "port", "prefix", "user", "password_env", "tls", "ca", "client_id", "discovery_prefix",
             "keepalive_s"}


@dataclass
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = "thermocc"
    user: str | None = None
    password_env: str | None = None
    tls: bool = False
    ca: str | None = None              # CA certificate file for TLS (default: the system's CAs)
    client_id: str = "thermocc-host"
    discovery_prefix: str | None = "homeassistant"
    keepalive_s: int = 30

    @property
    def password(self):
        return os.environ.get(self.password_env) if self.password_env else None


@dataclass
class Site:
    name: str
    mqtt: MqttSettings
    rooms: list
    outputs: Path
    state: Path
    source: str = "?"
    room_files: list = field(default_factory=list)
    journal_keep_days: int = 90


def parse_site(raw, base, source="site", only_rooms=None):
    problems = []
    if not isinstance(raw, dict):
        raise RoomConfigError(source, ["must be a JSON object"])
    for k in raw:
        if k not in SITE_KEYS:
            problems.append("%s: unknown key; allowed: %s" % (k, ", ".join(sorted(SITE_KEYS))))
    mq = MqttSettings()
    m = raw.get("mqtt", {})
    if not isinstance(m, dict):
        problems.append("mqtt: must be an object")
        m = {}
    for k, v in m.items():
        if k not in MQTT_KEYS:
            problems.append("mqtt.%s: unknown key; allowed: %s" % (k, ", ".join(sorted(MQTT_KEYS))))
        elif k in ("port", "keepalive_s") and (isinstance(v, bool) or not isinstance(v, int) or not 0 < v < 65536):
            problems.append("mqtt.%s: must be an integer 1..65535, got %r" % (k, v))
        elif k == "tls" and not isinstance(v, bool):
            problems.append("mqtt.tls: must be true or false")
        elif k in ("host", "prefix", "client_id", "ca") and (not isinstance(v, str) or not v):
            problems.append("mqtt.%s: must be a non-empty string" % k)
        elif k == "ca" and not (Path(base) / v).is_file():
            problems.append("mqtt.ca: %s is not a file; give the CA certificate (PEM) the broker's "
                            "certificate is signed with, relative to the site file" % (Path(base) / v))
        elif k == "ca":
            mq.ca = str(Path(base) / v)
        else:
            setattr(mq, k, v)
    if mq.ca and not mq.tls:
        problems.append("mqtt.ca: is set but mqtt.tls is false; set \"tls\": true to use it")
    if mq.password_env and mq.password_env not in os.environ:
        problems.append("mqtt.password_env: environment variable %s is not set; export it before starting"
                        % mq.password_env)
    keep = raw.get("journal_keep_days", 90)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        problems.append("journal_keep_days: must be a whole number of days >= 0 (0 keeps the archive forever), "
                        "got %r" % (keep,))
    rooms, files = [], []
    r = raw.get("rooms")
    if not isinstance(r, list) or not r or not all(isinstance(x, str) for x in r):
        problems.append("rooms: must be a non-empty list of room file paths")
        r = []
    for rel in r:
        path = (Path(base) / rel) if not Path(rel).is_absolute() else Path(rel)
        try:
            room = load_room(path)
        except RoomConfigError as e:
            problems.extend("%s: %s" % (path, p) for p in e.problems)
            continue
        if only_rooms and room.name not in only_rooms:
            continue
        rooms.append(room)
        files.append(path)
    names = [x.name for x in rooms]
    if len(set(names)) != len(names):
        problems.append("rooms: two room files use the same room name")
    cams = [(c.node, c.id) for x in rooms for c in x.cameras]
    if len(set(cams)) != len(cams):
        problems.append("rooms: a camera (node, id) appears in two rooms; each camera belongs to one room")
    if only_rooms and not problems:
        missing = set(only_rooms) - set(names)
        if missing:
            problems.append("--room %s: not in this site's rooms (%s)" % (", ".join(sorted(missing)), ", ".join(names)))
    if problems:
        raise RoomConfigError(source, problems)
    if only_rooms and "client_id" not in m:
        # daemons sharing a broker need their own sessions, or they keep taking each other's
        mq.client_id = "%s-%s" % (mq.client_id, "+".join(sorted(only_rooms)))
    return Site(raw.get("site", rooms[0].site if rooms else "site"), mq, rooms,
                Path(base) / raw.get("outputs", "outputs"), Path(base) / raw.get("state", "state"), source, files,
                keep)


def load_site(path, only_rooms=None):
    path = Path(path)
    return parse_site(read_config_json(path, "site file"), path.parent, str(path), only_rooms)
