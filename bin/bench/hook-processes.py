#!/usr/bin/env python3
"""hook-processes.py < perf-script-output

Splits each git hook process into its stages from the kernel's scheduler events, recorded with

    perf record -e sched:sched_process_fork,sched:sched_process_exec,sched:sched_process_exit \\
        -a -o sched.data -- sh -c 'for i in ...; do git push ...; done'
    perf script -i sched.data | bin/bench/hook-processes.py

and prints, per hook file and the program it went on to exec (an okstra shim execs the
binary), the medians in ms of: fork to exec of the hook file, the `sh` part (exec of the hook
file to the next exec, or to exit), the binary (its exec to exit), and the whole process.
"""
import re, statistics, sys

EVENT = re.compile(r"\s*(\S+)\s+(\d+)\s+\[\d+\]\s+([\d.]+):\s+sched:(\S+):\s*(.*)")

def main():
    forked, execs, exited = {}, {}, {}
    for line in sys.stdin:
        m = EVENT.match(line)
        if not m:
            continue
        pid, t, kind, rest = int(m.group(2)), float(m.group(3)) * 1000, m.group(4), m.group(5)
        if kind == "sched_process_fork":
            forked[int(re.search(r"child_pid=(\d+)", rest).group(1))] = t
        elif kind == "sched_process_exec":
            execs.setdefault(pid, []).append((t, re.search(r"filename=(\S+)", rest).group(1)))
        elif kind == "sched_process_exit":
            exited[pid] = t
    rows = {}
    for pid, ex in execs.items():
        if "/hooks/" not in ex[0][1] or pid not in forked or pid not in exited:
            continue
        hook = ex[0][1].rsplit("/", 1)[-1]
        then = ex[1][1] if len(ex) > 1 else "-"
        sh_end = ex[1][0] if len(ex) > 1 else exited[pid]
        binary = exited[pid] - ex[1][0] if len(ex) > 1 else 0.0
        rows.setdefault((hook, then), []).append(
            (ex[0][0] - forked[pid], sh_end - ex[0][0], binary, exited[pid] - forked[pid]))
    if not rows:
        sys.exit("no hook processes in the input (record with -a and the sched events above)")
    print(f"{'hook':24} {'then execs':40} {'n':>4} {'fork>exec':>9} {'sh':>6} {'binary':>7} {'whole':>6}")
    for (hook, then), r in sorted(rows.items()):
        cols = [statistics.median(c) for c in zip(*r)]
        print(f"{hook:24} {then[-40:]:40} {len(r):4} {cols[0]:9.2f} {cols[1]:6.2f} {cols[2]:7.2f} {cols[3]:6.2f}")

if __name__ == "__main__":
    main()
