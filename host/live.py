"""Live room results over MQTT, in the common occupancy vocabulary, plus Home Assistant discovery.

Topics (retained, QoS 1), each payload {"measured_at": ISO-8601 UTC, "value": ...}:
  <prefix>/<site>/<room>/occupancy/occupants_count        value: int (current fused count)
  <prefix>/<site>/<room>/occupancy/occupancy_state        value: {"occupied": bool, "confidence": 0..1}
  <prefix>/<site>/<room>/occupancy/directional_movement   value: {"in": n, "out": n, "net": n} since start
  <prefix>/<site>/<room>/occupancy/dwell_time             value: mean seconds the people present have been in
  <prefix>/<site>/<room>/occupancy/availability           "online" while a board of the room is online
count and state are published when they change, all four at every closed timestep.
confidence is the share of the room's cameras that reported in time (coverage).
Home Assistant shows the room's sensors as unavailable when the daemon is offline (its last
will) or when every board of the room is (theirs): not a count frozen at its last value.
"""
from __future__ import annotations

import datetime as dt
import json


def _iso(t_ms):
    return (dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=t_ms)).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


class LivePublisher:
    LEAVES = ("occupants_count", "occupancy_state", "directional_movement", "dwell_time")

    def __init__(self, client, site, room, availability_topic):
        self.client = client
        self.site = site
        self.room = room
        self.base = "%s/%s/%s/occupancy" % (site.mqtt.prefix, room.site, room.name)
        self.availability = availability_topic
        self.room_availability = self.topic("availability")
        self.last = None
        self.last_tick = None

    def topic(self, leaf):
        return "%s/%s" % (self.base, leaf)

    def _send(self, leaf, t_ms, value):
        self.client.publish(self.topic(leaf), json.dumps({"measured_at": _iso(t_ms), "value": value}),
                            qos=1, retain=True)

    def announce(self):
        """Home Assistant MQTT discovery: the room appears as a count sensor and an occupancy sensor."""
        prefix = self.site.mqtt.discovery_prefix
        if not prefix:
            return
        uid = "thermocc_%s_%s" % (self.room.site, self.room.name)
        device = {"identifiers": [uid], "name": "thermocc %s" % self.room.name, "manufacturer": "thermocc",
                  "model": "thermal occupancy room"}
        configs = {
            "sensor/%s_count/config" % uid: {
                "name": "%s occupants" % self.room.name, "unique_id": uid + "_count",
                "state_topic": self.topic("occupants_count"), "value_template": "{{ value_json.value }}",
                "unit_of_measurement": "people", "state_class": "measurement"},
            "binary_sensor/%s_occupied/config" % uid: {
                "name": "%s occupied" % self.room.name, "unique_id": uid + "_occupied", "device_class": "occupancy",
                "state_topic": self.topic("occupancy_state"),
                "value_template": "{{ 'ON' if value_json.value.occupied else 'OFF' }}"},
            "sensor/%s_net/config" % uid: {
                "name": "%s net entries" % self.room.name, "unique_id": uid + "_net",
                "state_topic": self.topic("directional_movement"), "value_template": "{{ value_json.value.net }}"},
            "sensor/%s_dwell/config" % uid: {
                "name": "%s dwell time" % self.room.name, "unique_id": uid + "_dwell",
                "state_topic": self.topic("dwell_time"), "value_template": "{{ value_json.value }}",
                "unit_of_measurement": "s"},
        }
        for topic, cfg in configs.items():
            cfg.update({"availability": [{"topic": self.availability}, {"topic": self.room_availability}],
                        "availability_mode": "all", "device": device})
            self.client.publish("%s/%s" % (prefix, topic), json.dumps(cfg), qos=1, retain=True)

    def boards_online(self, online):
        """Whether any board of the room is online (from the boards' availability)."""
        self.client.publish(self.room_availability, "online" if online else "offline", qos=1, retain=True)

    def tick(self, pipeline, result):
        cams = len(self.room.cameras)
        state = (result.count, result.count > 0, round(result.cameras_ok / cams, 2))
        self.last_tick = (pipeline, result)
        if state != self.last:
            self.last = state
            self._publish_now(pipeline, result, movement=False)

    def _publish_now(self, pipeline, result, movement=True):
        t = result.t_ms + pipeline.tick_ms
        cams = len(self.room.cameras)
        self._send("occupants_count", t, result.count)
        self._send("occupancy_state", t, {"occupied": result.count > 0,
                                          "confidence": round(result.cameras_ok / cams, 2)})
        if movement:
            tr = pipeline.tracker
            self._send("directional_movement", t, {"in": tr.entries, "out": tr.exits, "net": tr.entries - tr.exits})
            now = t
            present = [tk for tk in tr.tracks if tk.confirmed]
            dwell = sum(now - tk.born_ms for tk in present) / len(present) / 1000 if present else 0.0
            self._send("dwell_time", t, round(dwell, 1))

    def steps(self, pipeline, rows, zone_rows):
        if self.last_tick is not None:
            self._publish_now(*self.last_tick)

    def sync(self):
        pass                     # live values are retained by the broker; nothing to keep

    def close(self):
        pass
