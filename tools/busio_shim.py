# A CircuitPython busio.I2C face on a MicroPython machine.I2C-like bus, so the Adafruit
# MLX90640 driver (used only as a reference in tests and benchmarks) can run on the same
# simulated sensor as ours, under CPython and MicroPython alike.


class BusioI2C:
    def __init__(self, bus):
        self.bus = bus
        self._pointer = {}

    def try_lock(self):
        return True

    def unlock(self):
        pass

    def writeto(self, address, buffer, start=0, end=None):
        end = len(buffer) if end is None else end
        data = bytes(buffer[start:end])
        if len(data) >= 2:
            reg = (data[0] << 8) | data[1]
            if len(data) > 2:
                self.bus.writeto_mem(address, reg, data[2:], addrsize=16)
            self._pointer[address] = reg

    def readfrom_into(self, address, buffer, start=0, end=None):
        end = len(buffer) if end is None else end
        view = memoryview(buffer)[start:end]
        self.bus.readfrom_mem_into(address, self._pointer.get(address, 0), view, addrsize=16)

    def writeto_then_readfrom(self, address, buffer_out, buffer_in, out_start=0, out_end=None,
                              in_start=0, in_end=None):
        self.writeto(address, buffer_out, out_start, out_end)
        self.readfrom_into(address, buffer_in, in_start, in_end)
