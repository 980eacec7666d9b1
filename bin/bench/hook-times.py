#!/usr/bin/env python3
"""hook-times.py 'LABEL=GLOB' ...

Reads git GIT_TRACE2_EVENT files (one per git command) and prints, per label, the median over
the files of: the whole command, and the time of each hook the top-level git ran (child_start
to child_exit; a hook git runs twice in one command counts as the sum of both).
"""
import glob, json, statistics, sys

def hook_times(path):
    starts, per_hook, total = {}, {}, None
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if "/" in e.get("sid", "/"):
                continue  # a child git's own events
            ev = e.get("event")
            if ev == "child_start" and e.get("child_class") == "hook":
                starts[e["child_id"]] = e.get("hook_name", "?")
            elif ev == "child_exit" and e.get("child_id") in starts:
                name = starts[e["child_id"]]
                per_hook[name] = per_hook.get(name, 0.0) + e["t_rel"] * 1000
            elif ev == "exit":
                total = e["t_abs"] * 1000
    return total, per_hook

def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for arg in sys.argv[1:]:
        label, pattern = arg.split("=", 1)
        runs = [hook_times(p) for p in sorted(glob.glob(pattern))]
        if not runs:
            sys.exit(f"no trace files match {pattern}")
        names = sorted({n for _, hooks in runs for n in hooks})
        parts = [f"{n} {statistics.median(h.get(n, 0.0) for _, h in runs):.2f} ms" for n in names]
        total = statistics.median(t for t, _ in runs if t is not None)
        print(f"{label}: push {total:.1f} ms; " + (", ".join(parts) or "no hooks") + f" ({len(runs)} pushes)")

if __name__ == "__main__":
    main()
