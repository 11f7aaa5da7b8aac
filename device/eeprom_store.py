# A copy of each sensor's EEPROM on the board's flash, one file per camera slot (bus and
# address); the copy holds the sensor's device id, so a swapped sensor is recognised.
# The MLX90640 EEPROM has been reported to corrupt after I2C bus glitches; the first
# good read is the reference from then on.
import os


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class EepromStore:
    def __init__(self, folder):
        self.folder = folder
        if not _exists(folder):
            os.mkdir(folder)

    def _path(self, slot):
        return "%s/mlx90640_%s.bin" % (self.folder, slot)

    def load(self, slot):
        """The saved 832 words as a bytes object (big-endian), or None."""
        try:
            with open(self._path(slot), "rb") as f:
                data = f.read()
        except OSError:
            return None
        return data if len(data) == 1664 else None

    def save(self, slot, data):
        # Write then rename: a power cut leaves either the old copy or the new one.
        path = self._path(slot)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        try:
            os.remove(path)
        except OSError:
            pass
        os.rename(tmp, path)
