# An SD card in RAM with the FileStorage interface (thermocc_device.storage), for running
# the firmware where there is no writable filesystem: the WASI MicroPython of the heap
# test. Plain Python that runs under MicroPython and CPython. All file contents live in
# one pool allocated up front, in fixed slots, so writing a record allocates nothing
# (a card's contents are not the board's heap); a file larger than its slot, or more
# files than slots, fails with ENOSPC as a full card does.
ENOSPC = 28
ENOENT = 2


class RamStorage:
    def __init__(self, slot_bytes=16384, slots=8):
        self.present = True
        self.slot_bytes = slot_bytes
        self.pool = bytearray(slot_bytes * slots)
        self.free_slots = list(range(slots))
        self.files = {}          # name -> [slot, size]

    def makedirs(self):
        pass

    def exists(self, name):
        return name in self.files

    def names(self):
        return iter(list(self.files))

    def size(self, name):
        return self._entry(name)[1]

    def _entry(self, name):
        entry = self.files.get(name)
        if entry is None:
            raise OSError(ENOENT)
        return entry

    def open(self, name, mode):
        entry = self.files.get(name)
        if "w" in mode or entry is None and "a" in mode:
            if entry is None:
                if not self.free_slots:
                    raise OSError(ENOSPC)
                entry = self.files[name] = [self.free_slots.pop(0), 0]
            entry[1] = 0
        elif entry is None:
            raise OSError(ENOENT)
        return RamFile(self, entry, entry[1] if "a" in mode else 0)

    def remove(self, name):
        slot = self._entry(name)[0]
        del self.files[name]
        self.free_slots.append(slot)

    def replace(self, src, dst):
        entry = self._entry(src)
        if dst in self.files:
            self.remove(dst)
        del self.files[src]
        self.files[dst] = entry

    def crc32(self):
        """CRC32 over every file's name and contents, in name order (to compare two runs)."""
        import binascii
        crc = 0
        for name in sorted(self.files):
            slot, size = self.files[name]
            start = slot * self.slot_bytes
            crc = binascii.crc32(memoryview(self.pool)[start:start + size], binascii.crc32(name.encode(), crc))
        return crc & 0xFFFFFFFF

    def free_bytes(self):
        return self.slot_bytes * len(self.free_slots)

    def write_atomic(self, name, data):
        with self.open(name + ".tmp", "wb") as f:
            f.write(data)
        self.replace(name + ".tmp", name)

    def read_atomic(self, name):
        for candidate in (name, name + ".tmp"):
            if candidate in self.files:
                with self.open(candidate, "rb") as f:
                    return f.read()
        return None


class RamFile:
    def __init__(self, storage, entry, pos):
        self.storage = storage
        self.entry = entry
        self.pos = pos

    def write(self, data):
        s = self.storage
        n = len(data)
        if self.pos + n > s.slot_bytes:
            raise OSError(ENOSPC)
        start = self.entry[0] * s.slot_bytes + self.pos
        s.pool[start:start + n] = data
        self.pos += n
        if self.pos > self.entry[1]:
            self.entry[1] = self.pos
        return n

    def read(self, n=-1):
        s = self.storage
        end = self.entry[1] if n is None or n < 0 else min(self.entry[1], self.pos + n)
        start = self.entry[0] * s.slot_bytes
        data = bytes(memoryview(s.pool)[start + self.pos:start + end]) if end > self.pos else b""
        self.pos = max(self.pos, end)
        return data

    def seek(self, offset, whence=0):
        self.pos = offset if whence == 0 else (self.pos + offset if whence == 1 else self.entry[1] + offset)
        return self.pos

    def tell(self):
        return self.pos

    def flush(self):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
