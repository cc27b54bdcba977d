#!/usr/bin/env python3
# run_benches.py: run vmio's benchmarks one after another, stream their
# tables to stdout, and merge their JSON objects into one results file.
#
# Usage: run_benches.py --out RESULTS.json [--timeout S] :: NAME CMD [ARGS...] :: NAME CMD ...
#
# Each benchmark gets VMIO_BENCH_JSON=<temp file> in its environment and
# should write one JSON object there (bench/bench_common.c does). A program
# that ignores the variable may instead print JSON objects on stdout (a line
# starting with '{'); the last one found is used, and with none the raw
# stdout is kept. Benchmarks never pass or fail: this script exits non-zero
# only when a program could not run (crash, non-zero status, timeout), and
# still writes everything else it measured.
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time


def machine():
    info = {"kernel": platform.release(), "arch": platform.machine(),
            "cpus": os.cpu_count(),
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and "cpu" not in info:
                    info["cpu"] = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    info["hypervisor_flag"] = " hypervisor" in line
                    break
    except OSError:
        pass
    try:
        with open("/proc/loadavg") as f:
            info["loadavg_at_start"] = f.read().split()[:3]
    except OSError:
        pass
    return info


def json_from_stdout(text):
    """JSON objects printed on stdout: the last one that parses."""
    dec = json.JSONDecoder()
    found = None
    lines = text.splitlines(True)
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("{"):
            continue
        rest = "".join(lines[i:]).lstrip()
        try:
            obj, _ = dec.raw_decode(rest)
        except ValueError:
            continue
        if isinstance(obj, dict):
            found = obj
    return found


def run_one(name, cmd, timeout):
    print("\n#### %s: %s" % (name, " ".join(os.path.basename(c) if i == 0 else c
                                          for i, c in enumerate(cmd))), flush=True)
    fd, path = tempfile.mkstemp(prefix="vmio-bench-", suffix=".json")
    os.close(fd)
    env = dict(os.environ, VMIO_BENCH_JSON=path)
    t0 = time.monotonic()
    out = []
    err = None
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True)
        timer = threading.Timer(timeout, p.kill)  # a hung benchmark must not hang make
        timer.start()
        for line in p.stdout:  # stream the tables as they come
            sys.stdout.write(line)
            sys.stdout.flush()
            out.append(line)
        rc = p.wait()
        timed_out = not timer.is_alive()
        timer.cancel()
        if timed_out:
            err = "killed after the %d s timeout" % timeout
        elif rc != 0:
            err = "exit status %d" % rc
    except OSError as e:
        err = str(e)
    elapsed = time.monotonic() - t0
    result = None
    try:
        with open(path) as f:
            text = f.read()
        if text.strip():
            result = json.loads(text)
    except (OSError, ValueError) as e:
        if err is None:
            err = "bad JSON from %s: %s" % (name, e)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    if result is None:
        result = json_from_stdout("".join(out))
    if result is None:
        result = {"stdout": "".join(out)}
    result["elapsed_s"] = round(elapsed, 2)
    if err:
        result["error"] = err
        print("!!!! %s: %s" % (name, err), flush=True)
    return result, err


def main(argv):
    out_path, timeout = None, 120
    i = 1
    while i < len(argv) and argv[i] != "::":
        if argv[i] == "--out":
            out_path = argv[i + 1]
            i += 2
        elif argv[i] == "--timeout":
            timeout = int(argv[i + 1])
            i += 2
        else:
            print("run_benches.py: unknown argument %s" % argv[i], file=sys.stderr)
            return 2
    benches, cur = [], None
    for a in argv[i:]:
        if a == "::":
            cur = []
            benches.append(cur)
        else:
            cur.append(a)
    benches = [b for b in benches if len(b) >= 2]
    if not out_path or not benches:
        print(__doc__ or "usage: run_benches.py --out FILE :: NAME CMD ...", file=sys.stderr)
        return 2

    t0 = time.monotonic()
    results = {"machine": machine(), "benchmarks": {}}
    failed = []
    for b in benches:
        res, err = run_one(b[0], b[1:], timeout)
        results["benchmarks"][b[0]] = res
        if err:
            failed.append(b[0])
    results["total_s"] = round(time.monotonic() - t0, 2)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    print("\n#### %d benchmarks in %.1f s; JSON: %s" % (len(benches), results["total_s"],
                                                       out_path))
    if failed:
        print("#### could not run: %s" % ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
