"""How the Python test runners start anything that needs KVM (vmio, QEMU -accel kvm).

kvm(cmd) puts the wrapper named by VMIO_KVM_EXEC (tests/nested/vmio-kvm-exec,
set by meson for every KVM test) in front of @cmd: it runs the command
natively where /dev/kvm works fully and inside the nested KVM VM elsewhere
(docs/testing.md). Without VMIO_KVM_EXEC (a runner started by hand) the
command runs as given, and fails clearly if this host has no usable KVM:
KVM tests are never skipped.
"""
import os


def kvm(cmd):
    wrapper = os.environ.get("VMIO_KVM_EXEC")
    return ([wrapper] if wrapper else []) + list(cmd)
