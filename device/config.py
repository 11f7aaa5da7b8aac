# config.json of a node, validated at boot. Every problem is reported by its field path
# with what is expected, and the board keeps running what it can: a bad camera is
# disabled, a bad mqtt section means SD-only logging, and so on. docs/config.md lists
# every field; device/config.example.json is a complete example.
ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

DEFAULTS = {
    "site": None, "room": None, "node": None,
    "wifi": {"ssid": None, "password": "", "hostname": None},
    "mqtt": {"host": None, "port": 1883, "tls": False, "ca": None, "user": None, "password": None,
             "prefix": "thermocc", "keepalive_s": 30, "status_interval_s": 30, "refresh_s": 60,
             "backlog_rate_per_s": 20, "window": 8, "ram_queue": 32, "frames": False},
    "ntp": {"host": "pool.ntp.org", "interval_s": 3600},
    "sd": {"enabled": True, "folder": "thermocc", "raw_every": 0, "rotate_bytes": 1048576,
           "rotate_s": 3600, "reserve_bytes": 524288},
    "detection": {"threshold_c": 5.0, "min_pixels": 5, "max_person_c": 40.0,
                  "background_s": 32, "max_blobs": 24, "contrast": 0.45},
    "watchdog_s": 30,
    "cameras": [],
}
CAMERA_DEFAULTS = {"id": None, "bus": 0, "address": 0x33, "sda": None, "scl": None, "freq": 400000,
                   "refresh_hz": 4, "emissivity": 1.0, "threshold_c": None, "min_pixels": None,
                   "max_person_c": None, "mask": []}
REFRESH_RATES = (0.5, 1, 2, 4, 8, 16, 32, 64)


class ConfigProblem:
    def __init__(self, field, message):
        self.field = field
        self.message = message

    def __str__(self):
        return "config %s: %s" % (self.field, self.message)


class _Checker:
    def __init__(self):
        self.problems = []

    def problem(self, field, message):
        self.problems.append(ConfigProblem(field, message))

    def section(self, raw, defaults, path):
        # Known keys with defaults filled in; unknown keys are reported (typos), not fatal.
        out = {}
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.problem(path, "must be a JSON object {...}, got %s" % _kind(raw))
            raw = {}
        for key in raw:
            if key not in defaults:
                self.problem(_join(path, key), "unknown field (known: %s)" % ", ".join(sorted(defaults)))
        for key, default in defaults.items():
            out[key] = raw.get(key, default) if not isinstance(default, dict) else raw.get(key)
        return out

    def number(self, d, key, path, lo, hi, integer=False, optional=False):
        v = d[key]
        if v is None and optional:
            return True
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
            self.problem(_join(path, key), "must be %s from %s to %s, got %r"
                         % ("a whole number" if integer else "a number", lo, hi, v))
            return False
        if not lo <= v <= hi:
            self.problem(_join(path, key), "must be from %s to %s, got %r" % (lo, hi, v))
            return False
        return True

    def text(self, d, key, path, optional=False, ident=False):
        v = d[key]
        if v is None and optional:
            return True
        if not isinstance(v, str) or not v:
            self.problem(_join(path, key), "must be a non-empty string, got %r" % (v,))
            return False
        if ident and (len(v) > 32 or any(ch not in ID_CHARS for ch in v)):
            self.problem(_join(path, key), "must be 1-32 letters, digits, '_' or '-' (it is part of MQTT "
                         "topics), got %r" % v)
            return False
        return True

    def flag(self, d, key, path):
        if not isinstance(d[key], bool):
            self.problem(_join(path, key), "must be true or false, got %r" % (d[key],))
            return False
        return True


def _kind(v):
    return type(v).__name__


def _join(path, key):
    return "%s.%s" % (path, key) if path else key


def validate(raw):
    """Returns (config, problems, camera_ok): config has defaults filled in; camera_ok[i]
    tells whether camera i is usable. Nothing raises: a board must boot on a bad config."""
    c = _Checker()
    cfg = c.section(raw, DEFAULTS, "")
    for key in ("site", "room", "node"):
        if not c.text(cfg, key, "", ident=True):
            cfg[key] = {"site": "site", "room": "room", "node": "unnamed"}[key]
    for name in ("wifi", "mqtt", "ntp", "sd", "detection"):
        cfg[name] = c.section(cfg[name], DEFAULTS[name], name)

    w = cfg["wifi"]
    ok = w["ssid"] is not None and c.text(w, "ssid", "wifi")
    if not isinstance(w["password"], str):
        c.problem("wifi.password", "must be a string (\"\" for an open network)")
        ok = False
    ok &= c.text(w, "hostname", "wifi", optional=True, ident=True)
    cfg["wifi_ok"] = bool(ok)

    m = cfg["mqtt"]
    ok = m["host"] is None or c.text(m, "host", "mqtt")
    ok &= c.number(m, "port", "mqtt", 1, 65535, integer=True)
    ok &= c.flag(m, "tls", "mqtt")
    ok &= c.text(m, "ca", "mqtt", optional=True)
    ok &= c.text(m, "user", "mqtt", optional=True)
    ok &= c.text(m, "password", "mqtt", optional=True)
    if m["password"] is not None and m["user"] is None:
        c.problem("mqtt.password", "is set but mqtt.user is not; set both or neither")
        ok = False
    if not c.text(m, "prefix", "mqtt", ident=True):
        m["prefix"] = "thermocc"
    if not c.flag(m, "frames", "mqtt"):
        m["frames"] = False                # images leave the room only when clearly asked
    for key, lo, hi in (("keepalive_s", 5, 3600), ("status_interval_s", 1, 86400), ("refresh_s", 1, 86400),
                        ("backlog_rate_per_s", 1, 1000), ("window", 1, 64), ("ram_queue", 1, 1000)):
        if not c.number(m, key, "mqtt", lo, hi, integer=True):
            m[key] = DEFAULTS["mqtt"][key]
    cfg["mqtt_ok"] = bool(ok) and m["host"] is not None

    n = cfg["ntp"]
    if not c.text(n, "host", "ntp", optional=True):
        n["host"] = None
    if not c.number(n, "interval_s", "ntp", 60, 7 * 86400, integer=True):
        n["interval_s"] = 3600

    s = cfg["sd"]
    ok = c.flag(s, "enabled", "sd") and c.text(s, "folder", "sd")
    for key, lo, hi in (("raw_every", 0, 1000000), ("rotate_bytes", 4096, 1 << 30),
                        ("rotate_s", 60, 7 * 86400), ("reserve_bytes", 0, 1 << 30)):
        if not c.number(s, key, "sd", lo, hi, integer=True):
            s[key] = DEFAULTS["sd"][key]
    cfg["sd_ok"] = bool(ok) and s["enabled"] is True

    d = cfg["detection"]
    for key, lo, hi, integer in (("threshold_c", 0.5, 30, False), ("min_pixels", 1, 768, True),
                                 ("max_person_c", 20, 200, False), ("background_s", 1, 86400, False),
                                 ("contrast", 0, 1, False),
                                 ("max_blobs", 1, 200, True)):
        if not c.number(d, key, "detection", lo, hi, integer=integer):
            d[key] = DEFAULTS["detection"][key]

    if not c.number(cfg, "watchdog_s", "", 0, 3600, integer=True):
        cfg["watchdog_s"] = 30

    cams = raw.get("cameras") if isinstance(raw, dict) else None
    cameras = []
    camera_ok = []
    if not isinstance(cams, list) or not cams:
        c.problem("cameras", "must be a list of 1 or 2 cameras, e.g. [{\"id\": \"cam1\", \"bus\": 0}]")
        cams = []
    elif len(cams) > 2:
        c.problem("cameras", "a board serves at most 2 cameras, got %d (extra ones are ignored)" % len(cams))
        cams = cams[:2]
    seen = []
    for i, raw_cam in enumerate(cams):
        path = "cameras[%d]" % i
        cam = c.section(raw_cam, CAMERA_DEFAULTS, path)
        ok = c.text(cam, "id", path, ident=True)
        if ok and cam["id"] in seen:
            c.problem(path + ".id", "%r is used by another camera; ids must be unique" % cam["id"])
            ok = False
        ok &= c.number(cam, "bus", path, 0, 1, integer=True)
        ok &= c.number(cam, "address", path, 0x08, 0x77, integer=True)
        ok &= c.number(cam, "sda", path, 0, 48, integer=True, optional=True)
        ok &= c.number(cam, "scl", path, 0, 48, integer=True, optional=True)
        ok &= c.number(cam, "freq", path, 100000, 1000000, integer=True)
        if cam["refresh_hz"] not in REFRESH_RATES or isinstance(cam["refresh_hz"], bool):
            c.problem(path + ".refresh_hz", "must be one of %s, got %r"
                      % (", ".join(str(r) for r in REFRESH_RATES), cam["refresh_hz"]))
            ok = False
        ok &= c.number(cam, "emissivity", path, 0.1, 1.0)
        for key, lo, hi, integer in (("threshold_c", 0.5, 30, False), ("min_pixels", 1, 768, True),
                                     ("max_person_c", 20, 200, False)):
            if cam[key] is None:
                cam[key] = d[key]
            else:
                ok &= c.number(cam, key, path, lo, hi, integer=integer)
        ok &= _check_mask(c, cam["mask"], path + ".mask")
        if ok:
            for j, other in enumerate(cameras):
                if camera_ok[j] and other["bus"] == cam["bus"] and other["address"] == cam["address"]:
                    c.problem(path + ".address", "bus %d address 0x%02x is already used by camera %r; give the "
                              "second sensor another address" % (cam["bus"], cam["address"], other["id"]))
                    ok = False
        seen.append(cam["id"])
        cameras.append(cam)
        camera_ok.append(bool(ok))
    cfg["cameras"] = cameras
    return cfg, c.problems, camera_ok


def _check_mask(c, mask, path):
    if not isinstance(mask, list):
        c.problem(path, "must be a list of [row0, col0, row1, col1] rectangles")
        return False
    for k, rect in enumerate(mask):
        ok = (isinstance(rect, list) and len(rect) == 4 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                  for v in rect))
        if ok:
            r0, c0, r1, c1 = rect
            ok = 0 <= r0 <= r1 <= 23 and 0 <= c0 <= c1 <= 31
        if not ok:
            c.problem("%s[%d]" % (path, k), "must be [row0, col0, row1, col1] with 0 <= row0 <= row1 <= 23 and "
                      "0 <= col0 <= col1 <= 31, got %r" % (rect,))
            return False
    return True


def load(storage_read, name="config.json"):
    """Read and validate; a missing or unparsable file is itself a problem, not a crash."""
    import json
    try:
        text = storage_read(name)
    except OSError as e:
        cfg, problems, ok = validate({})
        problems.insert(0, ConfigProblem(name, "cannot be read (%s); copy device/config.example.json "
                                         "to the board as /config.json" % e))
        return cfg, problems, ok
    try:
        raw = json.loads(text)
    except ValueError as e:
        cfg, problems, ok = validate({})
        problems.insert(0, ConfigProblem(name, "is not valid JSON (%s)" % e))
        return cfg, problems, ok
    return validate(raw)
