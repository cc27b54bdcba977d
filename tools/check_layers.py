#!/usr/bin/env python3
"""Check libvmio's layer rules: which layer may include and call which.

The graph comes from src/meson.build (one --layer NAME=DEP,DEP per layer) and
the public headers each layer owns (--headers NAME=a.h,b.h). A layer's files
are the .c and .h files under src/NAME/; its internal headers are private to
it. Two checks, both must pass:

1. Includes. Every `#include "..."` in a layer's files, and in the public
   headers it owns, must name a header of that layer or of a layer it may use.
   Every public header must belong to exactly one layer. <linux/kvm.h> only in
   the layers named by --kvm-header.
2. Symbols (with --lib NAME=PATH and --nm). With --prefix, every global
   symbol a library defines must start with it (no clash with an embedder's). Every symbol a layer's library
   leaves undefined and another layer's library defines must come from a layer
   it may use, so a call that bypasses the graph fails even when it is made
   through a forward declaration.

Exit status 0 and the --stamp file written when clean; 1 with one line per
violation (file, line, what, which layers are allowed) otherwise; 2 for bad
arguments.
"""
import argparse
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def parse_pairs(items, what):
    out = {}
    for item in items or []:
        if "=" not in item:
            sys.exit(f"check_layers: --{what} {item!r}: expected NAME=VALUE")
        name, value = item.split("=", 1)
        out.setdefault(name, [])
        out[name] += [v for v in value.split(",") if v]
    return out


def closure(deps, name):
    seen, todo = {name}, [name]
    while todo:
        for d in deps.get(todo.pop(), []):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def layer_files(root, name):
    base = os.path.join(root, "src", name)
    for dirpath, _, names in os.walk(base):
        for n in sorted(names):
            if n.endswith((".c", ".h")):
                yield os.path.join(dirpath, n)


def check_includes(root, deps, owner, kvm_layers, errors):
    def check_file(path, layer):
        rel = os.path.relpath(path, root)
        allowed = closure(deps, layer)
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                kind, inc = m.groups()
                where = f"{rel}:{lineno}"
                if kind == "<":
                    if inc == "linux/kvm.h" and layer not in kvm_layers:
                        errors.append(f"{where}: includes <linux/kvm.h>, which only layers "
                                      f"{', '.join(sorted(kvm_layers)) or '(none)'} may")
                    continue
                if inc.startswith("vmio/"):
                    target = owner.get(inc[5:])
                    if target is None:
                        errors.append(f"{where}: includes {inc}, which is no public header "
                                      "of any layer")
                        continue
                    if target not in allowed:
                        errors.append(f"{where}: includes {inc} (layer {target}), but layer "
                                      f"{layer} may use only: {', '.join(sorted(allowed))}")
                    continue
                top = inc.split("/", 1)[0]
                if "/" in inc and top in deps:
                    if top != layer:
                        errors.append(f"{where}: includes {inc}, an internal header of layer "
                                      f"{top} (only {top}'s own files may)")
                    continue
                errors.append(f"{where}: includes \"{inc}\", which belongs to no layer "
                              "(write \"vmio/NAME.h\" or \"LAYER/NAME.h\")")

    for layer in deps:
        for path in layer_files(root, layer):
            check_file(path, layer)
    for header, layer in sorted(owner.items()):
        check_file(os.path.join(root, "include", "vmio", header), layer)


def nm_symbols(nm, lib):
    """(defined, undefined) global symbols of an archive: name -> member."""
    out = subprocess.run([nm, "-A", "-g", lib], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"check_layers: {nm} {lib}: {out.stderr.strip()}")
    defined, undefined = {}, {}
    for line in out.stdout.splitlines():
        # "lib.a:member.o: 0000000000000000 T name" or "lib.a:member.o:  U name"
        head, _, rest = line.rpartition(": ")
        if not head:
            head, _, rest = line.rpartition(":")
        parts = rest.split()
        member = os.path.basename(head.rsplit(":", 1)[-1])
        if len(parts) == 2 and parts[0] == "U":
            undefined.setdefault(parts[1], member)
        elif len(parts) == 3 and parts[1] not in "Uw":
            defined[parts[2]] = member
    return defined, undefined


def check_symbols(deps, libs, nm, prefix, errors):
    table = {}
    for layer, paths in libs.items():
        for path in paths:
            table[layer] = nm_symbols(nm, path)
    where = {}
    for layer, (defined, _) in table.items():
        for sym, member in defined.items():
            where[sym] = (layer, member)
            if prefix and not sym.startswith(prefix):
                errors.append(f"layer {layer} ({member}) exports {sym}, which lacks the "
                              f"{prefix} prefix (an embedder's symbol could clash with it; "
                              "make it static or name it " + prefix + "...)")
    for layer, (_, undefined) in sorted(table.items()):
        allowed = closure(deps, layer)
        for sym, member in sorted(undefined.items()):
            if sym in where and where[sym][0] not in allowed:
                target, tmember = where[sym]
                errors.append(f"layer {layer} ({member}) calls {sym}, defined in layer "
                              f"{target} ({tmember}), but may use only: "
                              f"{', '.join(sorted(allowed))}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, help="the source tree (src/, include/vmio/)")
    ap.add_argument("--layer", action="append", required=True, help="NAME=DEP,DEP")
    ap.add_argument("--headers", action="append", default=[], help="NAME=a.h,b.h")
    ap.add_argument("--lib", action="append", default=[], help="NAME=PATH of its library")
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--kvm-header", default="backend", help="layers that may include "
                    "<linux/kvm.h>, comma-separated")
    ap.add_argument("--prefix", default="", help="every global symbol a library defines "
                    "must start with it")
    ap.add_argument("--stamp")
    args = ap.parse_args()

    deps = {k: v for k, v in parse_pairs(args.layer, "layer").items()}
    for layer, ds in deps.items():
        for d in ds:
            if d not in deps:
                sys.exit(f"check_layers: layer {layer} depends on unknown layer {d}")
    owner, errors = {}, []
    for layer, headers in parse_pairs(args.headers, "headers").items():
        for h in headers:
            if h in owner:
                errors.append(f"include/vmio/{h}: claimed by layers {owner[h]} and {layer}")
            owner[h] = layer
    pub = os.path.join(args.root, "include", "vmio")
    for h in sorted(os.listdir(pub)):
        if h.endswith(".h") and h not in owner:
            errors.append(f"include/vmio/{h}: belongs to no layer (name it in layer_headers of "
                          "its layer's src/LAYER/meson.build)")
    for h in sorted(owner):
        if not os.path.exists(os.path.join(pub, h)):
            errors.append(f"include/vmio/{h}: named by layer {owner[h]} but missing")
    owner = {h: l for h, l in owner.items() if os.path.exists(os.path.join(pub, h))}

    kvm_layers = {k for k in args.kvm_header.split(",") if k}
    check_includes(args.root, deps, owner, kvm_layers, errors)
    if args.lib:
        check_symbols(deps, parse_pairs(args.lib, "lib"), args.nm, args.prefix, errors)

    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"check_layers: {len(errors)} layer violation(s); the graph is in src/meson.build "
              "(docs/architecture.md, \"Layers\")", file=sys.stderr)
        return 1
    if args.stamp:
        with open(args.stamp, "w") as f:
            f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
