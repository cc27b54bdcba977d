"""A writer for the "newc" cpio format the Linux kernel unpacks as an initramfs.

Only what an initramfs needs: directories, regular files and symlinks, owned
by root, with fixed timestamps (so the same inputs give the same bytes).
Format: each entry is a 110-byte ASCII header ("070701" and 13 eight-digit
hex fields), the NUL-terminated name padded to 4 bytes, then the data padded
to 4 bytes; the archive ends with the entry "TRAILER!!!".
"""

S_IFDIR, S_IFREG, S_IFLNK = 0o040000, 0o100000, 0o120000


class Archive:
    def __init__(self):
        self._parts = []
        self._ino = 1

    def _entry(self, name, mode, data=b"", nlink=1):
        name_b = name.encode() + b"\0"
        fields = [self._ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name_b), 0]
        self._ino += 1
        hdr = b"070701" + b"".join(b"%08x" % f for f in fields)
        out = hdr + name_b
        out += b"\0" * (-len(out) % 4)
        out += data + b"\0" * (-len(data) % 4)
        self._parts.append(out)

    def add_dir(self, name, perm=0o755):
        self._entry(name, S_IFDIR | perm, nlink=2)

    def add_file(self, name, data, perm=0o644):
        self._entry(name, S_IFREG | perm, data)

    def add_symlink(self, name, target):
        self._entry(name, S_IFLNK | 0o777, target.encode())

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return b"".join(self._parts)
