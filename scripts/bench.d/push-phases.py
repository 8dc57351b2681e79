#!/usr/bin/env python3
"""One push's push-to-live row from the agent log, or (--median FILE) the median of such rows.
Usage: push-phases.py LOG SHA12 T0 T1 N | push-phases.py --median ROWS"""
import datetime, re, statistics, sys

if sys.argv[1] == "--median":
    totals = [float(line.split()[1]) for line in open(sys.argv[2]) if line.strip()]
    rests = [float(line.split()[-1]) for line in open(sys.argv[2]) if line.strip()]
    if totals:
        print(f"  p50 total {statistics.median(totals):.2f}  p50 total-build-start {statistics.median(rests):.2f}"
              f"  (min {min(totals):.2f}, max {max(totals):.2f})")
    sys.exit(0)
log, sha, t0, t1, i = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]


def fields(line):
    return dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))


detect = fetch = None
phases = {}
for line in open(log):
    f = fields(line)
    if f.get("sha") != sha:
        continue
    ts = datetime.datetime.fromisoformat(f["ts"].replace("Z", "+00:00")).timestamp()
    if f["event"] == "release.detected" and detect is None:
        detect = ts - t0
    if f["event"] == "fetch.ok":
        fetch = float(f["took"].rstrip("s"))
    if f["event"] == "release.live":
        for k in ("build", "provision", "start", "health", "flip"):
            if k in f:
                phases[k] = float(f[k].rstrip("s"))
total = t1 - t0
start = phases.get("provision", 0) + phases.get("start", 0)
build = phases.get("build", 0) - (fetch or 0)
rest = total - build - start
print(f"  {i:<5} {total:<7.2f} {detect or 0:<7.2f} {fetch or 0:<7.3f} {build:<7.2f} {start:<7.3f} "
      f"{phases.get('health', 0):<7.3f} {phases.get('flip', 0):<7.3f} {rest:.2f}")
