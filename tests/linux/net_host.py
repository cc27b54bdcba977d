#!/usr/bin/env python3
"""The host side of the virtio-net test, run inside a network namespace of its own.

Usage: net_host.py TAP HOST_IP UP_BYTES DOWN_FILE -- VMM ARGS...

run_virtio.py starts it as `unshare --net -- python3 net_host.py ...`
through the KVM wrapper (so natively, or inside the nested KVM VM, with
vmio): the namespace is new and empty, and everything here stays inside it
and ends with it. It:
  1. brings up lo and makes the TAP (`ip tuntap add dev TAP mode tap`),
     gives it HOST_IP/24 and brings it up: the only addresses used are in
     this namespace;
  2. listens on HOST_IP port 5001 (the guest sends UP_BYTES bytes: their
     SHA-256 is printed) and port 5002 (the guest receives DOWN_FILE);
  3. runs the VMM command (vmio attaches to the TAP), its output passed
     through, and prints, after it exits:
       VMIO-HOST: up bytes=N sha256=HEX      what port 5001 received
       VMIO-HOST: down bytes=N               what port 5002 sent
       VMIO-HOST: up-mbps=X                  upload throughput as the host saw it
     or a "VMIO-HOST: ... FAIL" line;
  4. exits with the VMM's status (1 when the namespace could not be set up).
Needs root in the namespace (unshare gives it) and iproute2's `ip`.
"""
import ctypes
import hashlib
import signal
import socket
import subprocess
import sys
import threading
import time


def die_with_parent():
    """In the VMM's child, before exec: SIGKILL when this script dies (a test timeout kills
    only the process it started, and the namespace must not outlive the test)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def sh(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        print("VMIO-HOST: setup FAIL: %s: %s" % (" ".join(cmd), r.stdout.decode(errors="replace")),
              flush=True)
        sys.exit(1)


def listener(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(1)
    return s


class Sink(threading.Thread):
    """Port 5001: read until the guest closes its side, hash what came."""

    def __init__(self, sock, want):
        super().__init__(daemon=True)
        self.sock, self.want = sock, want
        self.n, self.sha, self.secs, self.err = 0, None, None, None

    def run(self):
        try:
            conn, _ = self.sock.accept()
            h = hashlib.sha256()
            t0 = None
            with conn:
                while True:
                    b = conn.recv(1 << 16)
                    if not b:
                        break
                    if t0 is None:
                        t0 = time.monotonic()
                    h.update(b)
                    self.n += len(b)
            self.secs = time.monotonic() - t0 if t0 else None
            self.sha = h.hexdigest()
        except OSError as e:
            self.err = str(e)


class Source(threading.Thread):
    """Port 5002: send the file, then close."""

    def __init__(self, sock, data):
        super().__init__(daemon=True)
        self.sock, self.data = sock, data
        self.n, self.err = 0, None

    def run(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.sendall(self.data)
                self.n = len(self.data)
                conn.shutdown(socket.SHUT_WR)
                while conn.recv(4096):  # until the guest closes too
                    pass
        except OSError as e:
            self.err = str(e)


def main(argv):
    if "--" not in argv or argv.index("--") != 5:
        sys.stderr.write(__doc__)
        return 2
    tap, ip, up_bytes, down_file = argv[1], argv[2], int(argv[3]), argv[4]
    vmm = argv[6:]
    with open(down_file, "rb") as f:
        down = f.read()
    sh(["ip", "link", "set", "lo", "up"])
    sh(["ip", "tuntap", "add", "dev", tap, "mode", "tap"])
    sh(["ip", "addr", "add", ip + "/24", "dev", tap])
    sh(["ip", "link", "set", tap, "up"])
    sink = Sink(listener(ip, 5001), up_bytes)
    source = Source(listener(ip, 5002), down)
    sink.start()
    source.start()
    sys.stdout.flush()
    status = subprocess.call(vmm, preexec_fn=die_with_parent)
    sink.join(5)
    source.join(5)
    if sink.sha is not None:
        print("VMIO-HOST: up bytes=%d sha256=%s" % (sink.n, sink.sha))
        if sink.secs:
            print("VMIO-HOST: up-mbps=%.1f" % (sink.n * 8 / sink.secs / 1e6))
    else:
        print("VMIO-HOST: up FAIL: %s" % (sink.err or "no connection"))
    if source.err or not source.n:
        print("VMIO-HOST: down FAIL: %s" % (source.err or "no connection"))
    else:
        print("VMIO-HOST: down bytes=%d" % source.n)
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
