#!/usr/bin/env python3
"""tools/check_layers.py on small made-up trees: it passes a clean tree and
refuses, naming file and line, each kind of violation (an include of a higher
layer, another layer's internal header, <linux/kvm.h> outside the KVM layers,
a public header of no layer, a call into a higher layer made through a
forward declaration, which only the symbol check sees, and an exported symbol
without the required prefix)."""
import os
import subprocess
import sys
import tempfile

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                     "check_layers.py")
CC = os.environ.get("CC", "cc")
failures = 0


def tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def archive(root, layer):
    """Compile src/LAYER/*.c into ROOT/libLAYER.a."""
    objs = []
    src = os.path.join(root, "src", layer)
    for n in sorted(os.listdir(src)):
        if n.endswith(".c"):
            obj = os.path.join(root, f"{layer}_{n}.o")
            subprocess.run([CC, "-c", "-I", os.path.join(root, "include"), "-I",
                            os.path.join(root, "src"), os.path.join(src, n), "-o", obj],
                           check=True)
            objs.append(obj)
    lib = os.path.join(root, f"lib{layer}.a")
    subprocess.run(["ar", "rcs", lib] + objs, check=True)
    return lib


BASE = {
    "include/vmio/low.h": "#pragma once\nint low(void);\n",
    "include/vmio/high.h": '#pragma once\n#include "vmio/low.h"\nint high(void);\n',
    "src/low/low.c": '#include "vmio/low.h"\n#include "low/priv.h"\nint low(void) { return PRIV; }\n',
    "src/low/priv.h": "#define PRIV 1\n",
    "src/high/high.c": '#include "vmio/high.h"\n#include <stdio.h>\nint high(void) { return low(); }\n',
}


def case(name, extra, want_status, want_text, libs=True, prefix=None):
    global failures
    with tempfile.TemporaryDirectory() as root:
        files = dict(BASE)
        files.update(extra)
        tree(root, {k: v for k, v in files.items() if v is not None})
        args = [sys.executable, CHECK, "--root", root, "--layer", "low=", "--layer", "high=low",
                "--headers", "low=low.h", "--headers", "high=high.h", "--kvm-header", "low",
                "--stamp", os.path.join(root, "stamp")]
        if prefix is not None:
            args += ["--prefix", prefix]
        if libs:
            args += ["--lib", "low=" + archive(root, "low"), "--lib", "high=" + archive(root, "high")]
        r = subprocess.run(args, capture_output=True, text=True)
        ok = r.returncode == want_status and want_text in r.stderr
        ok = ok and os.path.exists(os.path.join(root, "stamp")) == (want_status == 0)
        print(f"{'ok  ' if ok else 'FAIL'} {name}: status {r.returncode}", flush=True)
        if not ok:
            print(f"     wanted status {want_status} and {want_text!r}; stderr:\n{r.stderr}")
            failures += 1


case("clean tree", {}, 0, "")
case("include of a higher layer",
     {"src/low/bad.c": '#include "vmio/high.h"\nint bad(void) { return 0; }\n'}, 1,
     "src/low/bad.c:1: includes vmio/high.h (layer high), but layer low may use only: low")
case("public header including a higher one",
     {"include/vmio/low.h": '#pragma once\n#include "vmio/high.h"\nint low(void);\n'}, 1,
     "include/vmio/low.h:2: includes vmio/high.h (layer high)")
case("another layer's internal header",
     {"src/high/peek.c": '#include "low/priv.h"\nint peek(void) { return PRIV; }\n'}, 1,
     "src/high/peek.c:1: includes low/priv.h, an internal header of layer low")
case("linux/kvm.h outside the KVM layers",
     {"src/high/kvm.c": "#include <linux/kvm.h>\nint k(void) { return KVM_API_VERSION; }\n"}, 1,
     "src/high/kvm.c:1: includes <linux/kvm.h>")
case("a public header of no layer", {"include/vmio/stray.h": "int stray(void);\n"}, 1,
     "include/vmio/stray.h: belongs to no layer")
case("a call upwards through a forward declaration",
     {"src/low/sneak.c": "int high(void);\nint sneak(void) { return high(); }\n"}, 1,
     "layer low (low_sneak.c.o) calls high, defined in layer high")
case("the same call without libraries is not seen",
     {"src/low/sneak.c": "int high(void);\nint sneak(void) { return high(); }\n"}, 0, "",
     libs=False)
case("an exported symbol without the prefix", {}, 1,
     "layer low (low_low.c.o) exports low, which lacks the l_ prefix", prefix="l_")
print("PASS" if failures == 0 else f"{failures} case(s) failed")
sys.exit(1 if failures else 0)
