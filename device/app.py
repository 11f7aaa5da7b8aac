# Start-up on a board: read /board.json and /config.json, report config problems, build
# the hardware, run the node forever. main.py calls run().
import json

from thermocc_device import config as device_config
from thermocc_device.node import Node


def _read(name):
    with open("/" + name) as f:
        return f.read()


def run():
    import machine
    from thermocc_device import hardware
    cfg, problems, camera_ok = device_config.load(_read)
    try:
        board = json.loads(_read("board.json"))
    except (OSError, ValueError) as e:
        print("board.json: %s; deploy it with `make deploy BOARD=...`" % e)
        board = {"i2c": [{"id": 0, "sda": 21, "scl": 22}, {"id": 1, "sda": 25, "scl": 26}]}
    drivers, clock, sd, flash, wifi, mqtt, watchdog, sync = hardware.build(cfg, camera_ok, board)
    if wifi is not None:
        wifi.connect()
    node = Node(cfg, problems, camera_ok, drivers, clock, sd, flash, network=wifi, mqtt=mqtt,
                watchdog=watchdog, time_sync=sync, reboot=machine.reset)
    node.run()
