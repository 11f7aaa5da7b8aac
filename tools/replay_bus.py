# An MLX90640 that replays recorded words: the EEPROM and a list of RAM frames
# (834 words each: 832 RAM words, control register, subpage), in order, forever.
# Plain Python that runs under MicroPython too, for conformance runs and benchmarks
# on the real interpreter. The register-level simulator (mlx90640_sim) is the
# general tool; this one only plays back.
EEPROM_ADDRESS = 0x2400
RAM_ADDRESS = 0x0400
REG_STATUS = 0x8000
REG_CONTROL = 0x800D


class ReplayBus:
    def __init__(self, eeprom_words, frames, address=0x33):
        self.address = address
        self.eeprom = eeprom_words
        self.frames = frames
        self.index = 0
        self.control = frames[0][832]
        self.new_data = True
        self.polls_since_clear = 0
        self.reads = 0

    def _word(self, reg):
        if EEPROM_ADDRESS <= reg < EEPROM_ADDRESS + 832:
            return self.eeprom[reg - EEPROM_ADDRESS]
        if RAM_ADDRESS <= reg < RAM_ADDRESS + 832:
            return self.frames[self.index][reg - RAM_ADDRESS]
        if reg == REG_STATUS:
            return (0x0008 if self.new_data else 0) | self.frames[self.index][833]
        if reg == REG_CONTROL:
            return self.control
        return 0

    def readfrom_mem_into(self, addr, reg, buf, addrsize=16):
        if addr != self.address:
            raise OSError(19)
        if reg == REG_STATUS and not self.new_data:
            # The status check right after a read still says "nothing new"; by the next
            # poll the following measurement is ready.
            self.polls_since_clear += 1
            if self.polls_since_clear >= 2:
                self.index = (self.index + 1) % len(self.frames)
                self.new_data = True
                self.control = (self.control & ~0x1000) | (self.frames[self.index][832] & 0x1000)
        for i in range(len(buf) // 2):
            w = self._word(reg + i)
            buf[2 * i] = w >> 8
            buf[2 * i + 1] = w & 0xFF
        self.reads += 1

    def writeto_mem(self, addr, reg, buf, addrsize=16):
        if addr != self.address:
            raise OSError(19)
        value = (buf[0] << 8) | buf[1]
        if reg == REG_STATUS and not value & 0x0008:
            self.new_data = False
            self.polls_since_clear = 0
        elif reg == REG_CONTROL:
            self.control = value
