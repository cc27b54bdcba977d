#!/usr/bin/env python3
"""Run toml-decoder over every case of the toml-test suite.

usage: run_suite.py DECODER SUITE_DIR

valid/**/*.toml must decode (exit 0) to JSON equal, as data, to the .json
beside it: integers compared as integers, floats by value (nan == nan, -0 and
0 equal), date/times by value (offset date-times as instants, local ones by
their fields, fractions of a second to the nanosecond). invalid/**/*.toml must
be rejected (exit 1). Prints every failing case and a summary; exits 0 when
all pass, 1 otherwise, 77 (skip) when the suite is absent.
"""
import json
import math
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

DT_RE = re.compile(
    r"^(?:(\d{4})-(\d{2})-(\d{2}))?(?:[Tt ]?(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?"
    r"([Zz]|[+-]\d{2}:\d{2})?$")


def norm_datetime(kind, s):
    m = DT_RE.match(s)
    if not m:
        return ("bad", s)
    y, mo, d, h, mi, sec, frac, off = m.groups()
    frac_ns = int(Decimal("0." + (frac or "0")) * 10**9)
    if kind == "datetime":
        if off is None:
            return ("bad", s)
        if off in ("Z", "z"):
            tz = timezone.utc
        else:
            sign = -1 if off[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(off[1:3]), minutes=int(off[4:6])))
        t = datetime(int(y), int(mo), int(d), int(h), int(mi), min(int(sec), 59), tzinfo=tz)
        return (kind, t.timestamp() + (int(sec) > 59), frac_ns)
    return (kind, y, mo, d, h, mi, sec, frac_ns, off)


def norm_float(s):
    s = s.replace("_", "")
    if s.lstrip("+-") == "nan":
        return "nan"
    return float(s)


def equal(got, want, path="$"):
    """Return None when equal, else a description of the first difference."""
    if isinstance(want, dict) and set(want.keys()) == {"type", "value"} and \
            isinstance(want.get("type"), str) and isinstance(want.get("value"), str):
        if not (isinstance(got, dict) and set(got.keys()) == {"type", "value"}):
            return f"{path}: expected a {want['type']} value, got {json.dumps(got)[:80]}"
        if got["type"] != want["type"]:
            return f"{path}: type {got['type']} != {want['type']}"
        t, g, w = want["type"], got["value"], want["value"]
        try:
            if t == "integer":
                ok = int(g) == int(w)
            elif t == "float":
                ok = norm_float(g) == norm_float(w)
            elif t in ("datetime", "datetime-local", "date-local", "time-local"):
                ok = norm_datetime(t, g) == norm_datetime(t, w) and \
                    norm_datetime(t, w)[0] != "bad"
            elif t in ("string", "bool"):
                ok = g == w
            else:
                return f"{path}: unknown type {t} in expected output"
        except (ValueError, OverflowError) as e:
            return f"{path}: cannot compare {g!r} with {w!r}: {e}"
        return None if ok else f"{path}: {t} {g!r} != {w!r}"
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{path}: expected a table, got {json.dumps(got)[:80]}"
        if set(got) != set(want):
            return f"{path}: keys {sorted(got)} != {sorted(want)}"
        for k in want:
            r = equal(got[k], want[k], f"{path}.{k}")
            if r:
                return r
        return None
    if isinstance(want, list):
        if not isinstance(got, list):
            return f"{path}: expected an array, got {json.dumps(got)[:80]}"
        if len(got) != len(want):
            return f"{path}: array length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            r = equal(g, w, f"{path}[{i}]")
            if r:
                return r
        return None
    return f"{path}: unexpected {json.dumps(want)[:80]} in expected output"


def run(decoder, path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        p = subprocess.run([decoder], input=data, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return -1, b"", b"timed out after 30 seconds"
    return p.returncode, p.stdout, p.stderr


MIN_CASES = 100  # toml-test 1.x has a few hundred of each


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    decoder, suite = sys.argv[1], sys.argv[2]
    if not os.path.isdir(os.path.join(suite, "valid")):
        print(f"toml-test suite not found at {suite}; skipping")
        return 77
    cases = {"valid": [], "invalid": []}
    for kind in cases:
        for root, _, files in os.walk(os.path.join(suite, kind)):
            cases[kind] += [os.path.join(root, f) for f in files if f.endswith(".toml")]
        cases[kind].sort()
    failures = []
    passed = {"valid": 0, "invalid": 0}
    for path in cases["valid"]:
        name = os.path.relpath(path, suite)
        rc, out, err = run(decoder, path)
        if rc != 0:
            failures.append(f"FAIL {name}: rejected (exit {rc}): {err.decode(errors='replace').strip()}")
            continue
        try:
            got = json.loads(out)
        except ValueError as e:
            failures.append(f"FAIL {name}: decoder printed invalid JSON: {e}")
            continue
        with open(path[:-5] + ".json", encoding="utf-8") as f:
            want = json.load(f)
        diff = equal(got, want)
        if diff:
            failures.append(f"FAIL {name}: {diff}")
        else:
            passed["valid"] += 1
    for path in cases["invalid"]:
        name = os.path.relpath(path, suite)
        rc, out, err = run(decoder, path)
        if rc != 1:
            failures.append(f"FAIL {name}: accepted (exit {rc}), output {out[:100]!r}")
        else:
            passed["invalid"] += 1
    for f in failures:
        print(f)
    print(f"valid: {passed['valid']}/{len(cases['valid'])} passed, "
          f"invalid: {passed['invalid']}/{len(cases['invalid'])} rejected")
    # A suite directory that holds (next to) nothing must not pass having compared nothing.
    if len(cases["valid"]) < MIN_CASES or len(cases["invalid"]) < MIN_CASES:
        print(f"FAIL: fewer than {MIN_CASES} valid or invalid cases under {suite}: "
              f"an incomplete copy of toml-test?")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
