#!/usr/bin/env python3
"""The nested KVM VM: a place where /dev/kvm works fully, on any x86-64 host.

    nested.py prepare                 fetch the kernel, build the initramfs
    nested.py start [--idle SECONDS]  boot the VM (idempotent; waits until ready)
    nested.py stop                    power it off
    nested.py status                  say whether it runs
    (all take --state DIR: the VM's state directory; default from VMIO_NESTED_STATE,
    and --arch x86_64|aarch64: the VM's architecture; default from VMIO_NESTED_ARCH,
    else x86_64)

aarch64: Debian's arm64 kernel under qemu-system-aarch64 -M virt,virtualization=on
(TCG with EL2, so the kernel runs KVM in VHE mode), the same agent built
statically for arm64 (vmio-nested-agent-aarch64), the host's root over 9p and
the network on virtio-mmio; arm64 binaries run in it, on the host's files.

The VM is Debian's generic kernel (downloaded with `apt-get download`, unpacked
with `dpkg-deb -x` into a cache; nothing is installed on the host) booted under
QEMU's TCG with an emulated AMD SVM CPU, so that the kernel's kvm-amd gives a
/dev/kvm on which KVM runs nested inside TCG. Its initramfs (built here: a
static busybox, the modules for KVM, virtio-net, 9p and TAP interfaces (tun),
and an init script)
mounts the host's root over 9p, and runs vmio-nested-agent chrooted there.
vmio-kvm-exec then runs commands in the VM through a forwarded loopback TCP
port (see proto.h and docs/testing.md).

Invariants: a VM that does not answer within the boot timeout is a failure
with the console log shown, never a skip; one VM per state directory, started
under a lock (concurrent starts wait for one boot); the host's /boot and
package database are never touched.
"""
import fcntl
import gzip
import hashlib
import io
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cpio  # noqa: E402  (tests/nested/cpio.py)

AGENT_PORT = 7000
PROTO_VERSION = b"vmio-nested-1"
# Modules the VM loads (with their dependencies from modules.dep, in order).
# tun: TAP interfaces for vmio's virtio-net test (network namespaces are built in).
WANTED_MODULES = ["kvm-amd", "virtio_pci", "virtio_net", "9pnet_virtio", "9p", "tun"]
BOOT_TIMEOUT = float(os.environ.get("VMIO_NESTED_BOOT_TIMEOUT", "300"))
VM_CPUS = os.environ.get("VMIO_NESTED_CPUS", "1")
VM_MEM = os.environ.get("VMIO_NESTED_MEM", "4096")
# One vCPU. With several vCPUs, multi-threaded TCG (QEMU 7.2) turns a locked
# read-modify-write (LOCK ADC/SBB, XCHG with memory) into a host atomic
# operation, and when that operation takes a nested page fault (every MMIO
# access of a nested guest does) the RFLAGS saved into the VMCB are wrong: the
# decoder's KVM cross-check saw 14 of 3,408 exits differ. Round-robin TCG
# (thread=single) avoids that but hangs a nested Linux boot with 2 vCPUs (all
# vCPUs idle, a wakeup lost). With one vCPU TCG emulates locked operations
# without host atomics and both work; nested guests with several vCPUs still
# run (their vCPU threads share the one CPU).
TCG_ACCEL = "tcg,thread=multi"

# What differs per architecture of the nested VM. aarch64 needs no kvm module
# (KVM is built into Debian's arm64 kernel) and uses virtio-mmio devices, so no
# PCI driver is loaded; its kernel package and busybox are arm64 packages
# (dpkg --add-architecture arm64; fetched with apt-get download, never installed).
ARCHES = {
    "x86_64": {
        "meta": "linux-image-amd64",
        "modules": WANTED_MODULES,
        "busybox_pkg": None,  # the host's busybox-static
        "console": "ttyS0",
        "agent": "vmio-nested-agent",
    },
    "aarch64": {
        "meta": "linux-image-arm64:arm64",
        "modules": ["virtio_mmio", "virtio_net", "9pnet_virtio", "9p"],
        "busybox_pkg": "busybox-static:arm64",
        "console": "ttyAMA0",
        "agent": "vmio-nested-agent-aarch64",
    },
}
ARCH = os.environ.get("VMIO_NESTED_ARCH") or "x86_64"
# aarch64 runs every test binary of its build in the VM, unit tests included:
# they want /dev/pts (pseudo-terminals) and a /tmp where FIFOs can be made
# (9p with security_model=none cannot), so that VM mounts both of its own.
# (The x86 VM runs only the VMM there; its /tmp is the host's, shared with
# the runners.) A source or build tree that itself lives under /tmp (a clone
# in /tmp/x) would vanish under that tmpfs: its top folder there is named in
# vmio.keep and bound back from the host's /tmp.
AARCH64_MOUNTS = """mkdir -p /newroot/dev/pts && mount -t devpts devpts /newroot/dev/pts
mkdir -p /hosttmp && mount --bind /newroot/tmp /hosttmp
mount -t tmpfs tmp /newroot/tmp
keep=$(arg vmio.keep)
for d in ${keep//,/ }; do
    [ "$d" = - ] || { mkdir -p "/newroot/tmp/$d" && mount --bind "/hosttmp/$d" "/newroot/tmp/$d"; }
done
"""


def tmp_keep():
    """Top folders under /tmp holding this source tree or the build (for vmio.keep)."""
    keep = []
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (here, os.path.abspath(STATE)):
        parts = os.path.realpath(path).split(os.sep)
        if len(parts) > 2 and parts[1] == "tmp" and parts[2] not in keep:
            keep.append(parts[2])
    return ",".join(keep) or "-"


def init_script():
    if ARCH != "aarch64":
        return INIT_SCRIPT
    anchor = "mkdir -p /newroot/dev/shm && mount -t tmpfs shm /newroot/dev/shm\n"
    return INIT_SCRIPT.replace(anchor, anchor + AARCH64_MOUNTS)

INIT_SCRIPT = r"""#!/bin/sh
# vmio nested VM init (generated by tests/nested/nested.py)
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}";; esac; done; }
for m in $(cat /mods/order); do insmod "/mods/$m" || echo "nested: insmod $m failed"; done
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap host /newroot; then
    echo "nested: cannot mount the host's root over 9p"; poweroff -f
fi
mount --bind /dev /newroot/dev
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mkdir -p /newroot/dev/shm && mount -t tmpfs shm /newroot/dev/shm
ip link set lo up
ip addr add 10.0.2.15/24 dev eth0
ip link set eth0 up
[ -e /dev/kvm ] || echo "nested: no /dev/kvm in the VM"
echo "nested: starting the agent"
exec chroot /newroot "$(arg vmio.agent)" --idle "$(arg vmio.idle)"
"""


def log(msg):
    sys.stderr.write("nested: %s\n" % msg)
    sys.stderr.flush()


def fail(msg):
    log(msg)
    sys.exit(1)


def cache_dir():
    d = os.environ.get("VMIO_NESTED_CACHE")
    if not d:
        home = os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache")
        d = os.path.join(home, "vmio-nested")
    os.makedirs(d, exist_ok=True)
    return d


def run(cmd, **kw):
    return subprocess.run(cmd, check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


def kernel_package(meta="linux-image-amd64"):
    """The kernel package Debian's meta package @meta depends on (linux-image-X-amd64
    for the generic kernel, linux-image-X-cloud-amd64 for linux-image-cloud-amd64).
    Without package lists (a fresh container), root runs `apt-get update` once."""
    for attempt in range(2):
        r = run(["apt-cache", "depends", meta])
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "Depends:" and parts[1].startswith("linux-image-"):
                # linux-image-X-arm64:arm64 for a foreign architecture's meta package
                return parts[1]
        if attempt == 0 and os.geteuid() == 0:
            log("no package lists: running apt-get update")
            run(["apt-get", "update", "-qq"])
    fail("cannot find the kernel package of %s (apt-cache depends said: %s%s); run "
         "`apt-get update` first" % (meta, r.stdout.strip(), r.stderr.strip()))


def fetch_kernel(cache, meta="linux-image-amd64"):
    """Unpacked kernel package of @meta: returns (vmlinuz path, modules dir). Under a
    lock in @cache: tests running in parallel fetch it once."""
    with open(os.path.join(cache, "fetch.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return fetch_kernel_locked(cache, meta)


def foreign_arch_ready(pkg):
    """A package name with an architecture (busybox-static:arm64) needs that
    architecture in dpkg's list and its package lists: root adds it once."""
    if ":" not in pkg:
        return
    arch = pkg.split(":", 1)[1]
    r = run(["dpkg", "--print-foreign-architectures"])
    if arch in r.stdout.split():
        return
    if os.geteuid() != 0:
        fail("%s needs the %s architecture in dpkg: run `dpkg --add-architecture %s && "
             "apt-get update` as root" % (pkg, arch, arch))
    log("adding the %s architecture to dpkg (packages are downloaded, never installed)" % arch)
    run(["dpkg", "--add-architecture", arch])
    run(["apt-get", "update", "-qq"])


def fetch_deb(cache, pkg):
    """The package @pkg unpacked in @cache (downloaded with apt-get download once)."""
    name = pkg.split(":", 1)[0]
    arch = pkg.split(":", 1)[1] if ":" in pkg else None
    root = os.path.join(cache, name + ("-" + arch if arch else ""))
    if os.path.isdir(root):
        return root

    def debs():
        return [f for f in os.listdir(cache) if f.startswith(name + "_") and f.endswith(".deb")
                and (not arch or f.endswith("_%s.deb" % arch))]

    found = debs()
    if not found:
        foreign_arch_ready(pkg)
        log("downloading %s (apt-get download)" % pkg)
        r = run(["apt-get", "download", pkg], cwd=cache)
        found = debs()
        if r.returncode != 0 or not found:
            fail("apt-get download %s failed: %s" % (pkg, r.stderr.strip()))
    tmp = root + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    r = run(["dpkg-deb", "-x", os.path.join(cache, sorted(found)[-1]), tmp])
    if r.returncode != 0:
        fail("dpkg-deb -x failed: %s" % r.stderr.strip())
    os.rename(tmp, root)
    return root


def fetch_kernel_locked(cache, meta):
    if ":" in meta:
        foreign_arch_ready(meta)
    pkg = kernel_package(meta)
    root = fetch_deb(cache, pkg)
    vmlinuz = [f for f in os.listdir(os.path.join(root, "boot")) if f.startswith("vmlinuz-")]
    mods = os.listdir(os.path.join(root, "lib", "modules"))
    if len(vmlinuz) != 1 or len(mods) != 1:
        fail("unexpected layout of the kernel package in %s" % root)
    return os.path.join(root, "boot", vmlinuz[0]), os.path.join(root, "lib", "modules", mods[0])


def modinfo_depends(path):
    """The `depends=` list of a kernel module (its .modinfo ELF section)."""
    with open(path, "rb") as f:
        elf = f.read()
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        fail("%s is not a 64-bit ELF module" % path)
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def section(i):
        name, _, _, _, off, size = struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        if elf[stroff + name:elf.index(b"\0", stroff + name)] == b".modinfo":
            for entry in elf[off:off + size].split(b"\0"):
                if entry.startswith(b"depends="):
                    return [d for d in entry[8:].decode().split(",") if d]
            return []
    return []


def module_order(moddir, wanted):
    """Paths (relative to moddir) of @wanted and their dependencies, dependencies first.
    Dependencies come from each module's .modinfo (the package has no modules.dep:
    depmod writes it at install time)."""
    by_name = {}
    for root, _, files in os.walk(os.path.join(moddir, "kernel")):
        for f in files:
            if f.endswith(".ko"):
                by_name[f[:-3].replace("-", "_")] = os.path.relpath(os.path.join(root, f), moddir)
            elif f.endswith((".ko.xz", ".ko.zst", ".ko.gz")):
                fail("compressed kernel modules (%s) are not supported" % f)
    builtin = set()
    bpath = os.path.join(moddir, "modules.builtin")
    if os.path.exists(bpath):
        with open(bpath) as f:
            builtin = {os.path.basename(l.strip()).split(".ko")[0].replace("-", "_") for l in f}
    order, seen = [], set()

    def visit(name):
        key = name.replace("-", "_")
        if key in seen or key in builtin:
            return
        seen.add(key)
        if key not in by_name:
            fail("kernel module %s not found in %s" % (name, moddir))
        for dep in modinfo_depends(os.path.join(moddir, by_name[key])):
            visit(dep)
        order.append(by_name[key])

    for name in wanted:
        visit(name)
    return order


def static_busybox(cache=None):
    pkg = ARCHES[ARCH]["busybox_pkg"]
    if pkg:
        with open(os.path.join(cache, "fetch.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = os.path.join(fetch_deb(cache, pkg), "bin", "busybox")
    else:
        path = shutil.which("busybox") or "/bin/busybox"
    try:
        with open(path, "rb") as f:
            elf = f.read()
    except OSError:
        fail("busybox not found: install Debian's busybox-static")
    # A static ELF has no PT_INTERP (type 3) program header.
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        fail("%s is not a 64-bit ELF" % path)
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        if struct.unpack_from("<I", elf, phoff + i * phentsize)[0] == 3:
            fail("%s is dynamically linked: install Debian's busybox-static" % path)
    return elf


def build_initramfs(cache, moddir):
    busybox = static_busybox(cache)
    mods = module_order(moddir, ARCHES[ARCH]["modules"])
    h = hashlib.sha256(ARCH.encode() + init_script().encode() + busybox + "\n".join(mods).encode()
                       + moddir.encode()).hexdigest()[:16]
    out = os.path.join(cache, "initramfs-%s.gz" % h)
    if os.path.exists(out):
        return out
    archive = cpio.Archive()
    for d in ["bin", "dev", "proc", "sys", "newroot", "mods"]:
        archive.add_dir(d)
    archive.add_file("bin/busybox", busybox, 0o755)
    for applet in ["sh", "mount", "insmod", "chroot", "poweroff", "cat", "echo", "ip", "mkdir"]:
        archive.add_symlink("bin/" + applet, "busybox")
    names = []
    for rel in mods:
        name = os.path.basename(rel)
        with open(os.path.join(moddir, rel), "rb") as f:
            data = f.read()
        archive.add_file("mods/" + name, data, 0o644)
        names.append(name)
    archive.add_file("mods/order", ("\n".join(names) + "\n").encode(), 0o644)
    archive.add_file("init", init_script().encode(), 0o755)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1, mtime=0) as z:
        z.write(archive.finish())
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.rename(tmp, out)
    return out


def prepare():
    cache = cache_dir()
    vmlinuz, moddir = fetch_kernel(cache, ARCHES[ARCH]["meta"])
    return vmlinuz, build_initramfs(cache, moddir)


def ping(port, timeout=5.0):
    """Whether the agent answers on @port (QEMU accepts the TCP connection even
    before the guest listens, so only the agent's reply counts)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"P" + struct.pack("<I", 0))
            hdr = b""
            while len(hdr) < 5:
                chunk = s.recv(5 - len(hdr))
                if not chunk:
                    return False
                hdr += chunk
            return hdr[0:1] == b"P"
    except OSError:
        return False


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def agent_path():
    p = os.environ.get("VMIO_NESTED_AGENT") or os.path.join(
        os.path.dirname(os.path.abspath(STATE)), ARCHES[ARCH]["agent"])
    if not os.access(p, os.X_OK):
        fail("the agent %s is missing: build the project first (ninja -C BUILD)" % p)
    return os.path.abspath(p)


def console_tail(n=40):
    try:
        with open(os.path.join(STATE, "console.log"), errors="replace") as f:
            lines = f.read().splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return "(no console log)"


def start(idle):
    os.makedirs(STATE, exist_ok=True)
    with open(os.path.join(STATE, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        port = read_int(os.path.join(STATE, "port"))
        if port and alive(read_int(os.path.join(STATE, "qemu.pid"))) and ping(port):
            return 0
        stop_locked(quiet=True)
        qemu = "qemu-system-" + ARCH
        if not shutil.which(qemu):
            fail("%s not found: install Debian's %s" % (
                qemu, "qemu-system-x86" if ARCH == "x86_64" else "qemu-system-arm"))
        t0 = time.monotonic()
        vmlinuz, initrd = prepare()
        agent = agent_path()
        t1 = time.monotonic()
        for attempt in range(5):
            port = free_port()
            console = os.path.join(STATE, "console.log")
            cmd = qemu_command(qemu, vmlinuz, initrd, agent, idle, port, console)
            r = run(cmd)
            if r.returncode == 0:
                break
            if "hostfwd" not in r.stderr and "address" not in r.stderr.lower():
                fail("QEMU did not start: %s" % r.stderr.strip())
        else:
            fail("QEMU could not forward a loopback port: %s" % r.stderr.strip())
        pid = read_int(os.path.join(STATE, "qemu.pid"))
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not ping(port, timeout=2.0):
            if not alive(pid):
                fail("the nested VM stopped while booting; console:\n" + console_tail())
            if time.monotonic() > deadline:
                stop_locked(quiet=True)
                fail("the nested VM did not answer within %d s; console:\n%s"
                     % (BOOT_TIMEOUT, console_tail()))
            time.sleep(0.2)
        with open(os.path.join(STATE, "port.tmp"), "w") as f:
            f.write("%d\n" % port)
        os.rename(os.path.join(STATE, "port.tmp"), os.path.join(STATE, "port"))
        t2 = time.monotonic()
        log("VM ready: kernel and initramfs %.1f s, boot %.1f s (port %d, QEMU pid %d)"
            % (t1 - t0, t2 - t1, port, pid))
    return 0


def qemu_command(qemu, vmlinuz, initrd, agent, idle, port, console):
    """The QEMU command line of the nested VM for ARCH."""
    append = ("console=%s loglevel=5 panic=-1 vmio.agent=%s vmio.idle=%d vmio.keep=%s"
              % (ARCHES[ARCH]["console"], agent, idle, tmp_keep()))
    net = "user,id=n0,hostfwd=tcp:127.0.0.1:%d-10.0.2.15:%d" % (port, AGENT_PORT)
    if ARCH == "aarch64":
        # EL2 (virtualization=on) so the kernel runs KVM; GICv3 for the VM's
        # own interrupts and the nested guests' vGICv3; virtio on MMIO.
        machine = ["-M", "virt,virtualization=on,gic-version=3", "-cpu", "max",
                   "-smp", os.environ.get("VMIO_NESTED_CPUS", "2")]
        devices = ["-fsdev", "local,id=fs0,path=/,security_model=none,multidevs=remap",
                   "-device", "virtio-9p-device,fsdev=fs0,mount_tag=host",
                   "-netdev", net, "-device", "virtio-net-device,netdev=n0"]
    else:
        machine = ["-cpu", "qemu64,+svm,+npt", "-smp", VM_CPUS]
        devices = ["-virtfs", "local,path=/,mount_tag=host,security_model=none,multidevs=remap",
                   "-netdev", net, "-device", "virtio-net-pci,netdev=n0"]
    return ([qemu, "-accel", os.environ.get("VMIO_NESTED_ACCEL", TCG_ACCEL)] + machine
            + ["-m", VM_MEM, "-nodefaults", "-no-reboot", "-display", "none",
               "-kernel", vmlinuz, "-initrd", initrd, "-append", append,
               "-serial", "file:" + console] + devices
            + ["-pidfile", os.path.join(STATE, "qemu.pid"), "-daemonize"])


def stop_locked(quiet=False):
    port = read_int(os.path.join(STATE, "port"))
    pid = read_int(os.path.join(STATE, "qemu.pid"))
    if port and alive(pid):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"S" + struct.pack("<I", 0))
        except OSError:
            pass
    deadline = time.monotonic() + 20
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, 15)
        time.sleep(1)
        if alive(pid):
            os.kill(pid, 9)
    for f in ("port", "qemu.pid"):
        try:
            os.unlink(os.path.join(STATE, f))
        except FileNotFoundError:
            pass
    if not quiet and pid:
        log("VM stopped")


def stop():
    if not os.path.isdir(STATE):
        return 0
    with open(os.path.join(STATE, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stop_locked()
    return 0


def status():
    port = read_int(os.path.join(STATE, "port"))
    pid = read_int(os.path.join(STATE, "qemu.pid"))
    if port and alive(pid) and ping(port):
        print("running (QEMU pid %d, agent on 127.0.0.1:%d)" % (pid, port))
        return 0
    print("not running")
    return 3


STATE = None


def main(argv):
    global STATE, ARCH
    args = argv[1:]
    idle = 1800
    state = os.environ.get("VMIO_NESTED_STATE")
    rest = []
    i = 0
    while i < len(args):
        if args[i] == "--state" and i + 1 < len(args):
            state = args[i + 1]
            i += 2
        elif args[i] == "--arch" and i + 1 < len(args):
            ARCH = args[i + 1]
            i += 2
        elif args[i] == "--idle" and i + 1 < len(args):
            idle = int(args[i + 1])
            i += 2
        else:
            rest.append(args[i])
            i += 1
    if len(rest) != 1 or rest[0] not in ("prepare", "start", "stop", "status"):
        sys.stderr.write(__doc__)
        return 2
    if ARCH not in ARCHES:
        fail("--arch %s: expected one of %s" % (ARCH, ", ".join(sorted(ARCHES))))
    if rest[0] == "prepare":
        vmlinuz, initrd = prepare()
        print("kernel %s\ninitramfs %s" % (vmlinuz, initrd))
        return 0
    if not state:
        fail("no state directory: give --state DIR or set VMIO_NESTED_STATE")
    STATE = os.path.abspath(state)
    return {"start": lambda: start(idle), "stop": stop, "status": status}[rest[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
