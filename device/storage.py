# A folder on a filesystem (the SD card, or flash) behind a small object, so the log
# code never touches `os` directly and tests can hand it a temporary folder or a card
# that fills up. Works under MicroPython and CPython.
import os

ENOSPC = 28


class FileStorage:
    def __init__(self, root):
        self.root = root.rstrip("/") or "/"
        self.present = True

    def path(self, name):
        return self.root + "/" + name

    def makedirs(self):
        path = "/" if self.root.startswith("/") else ""
        for part in self.root.split("/"):
            if part:
                path += part
                if not self.exists_path(path):
                    os.mkdir(path)
                path += "/"

    @staticmethod
    def exists_path(path):
        try:
            os.stat(path)
            return True
        except OSError:
            return False

    def exists(self, name):
        return self.exists_path(self.path(name))

    def names(self):
        """Iterate over file names in the folder (no list kept: cards hold many files)."""
        try:
            it = os.ilistdir(self.root)
        except AttributeError:  # CPython
            return iter(os.listdir(self.root))
        return (entry[0] for entry in it)

    def size(self, name):
        return os.stat(self.path(name))[6]

    def open(self, name, mode):
        return open(self.path(name), mode)

    def remove(self, name):
        os.remove(self.path(name))

    def replace(self, src, dst):
        # FAT's rename refuses an existing target; remove it first. A crash between the
        # two leaves only `src`, which readers of atomically written files also accept.
        try:
            os.remove(self.path(dst))
        except OSError:
            pass
        os.rename(self.path(src), self.path(dst))

    def free_bytes(self):
        st = os.statvfs(self.root)
        return st[0] * st[4]

    def write_atomic(self, name, data):
        tmp = name + ".tmp"
        with self.open(tmp, "wb") as f:
            f.write(data)
        self.replace(tmp, name)

    def read_atomic(self, name):
        """Contents of a file written by write_atomic, or None."""
        for candidate in (name, name + ".tmp"):
            try:
                with self.open(candidate, "rb") as f:
                    return f.read()
            except OSError:
                pass
        return None
