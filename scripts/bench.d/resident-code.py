#!/usr/bin/env python3
"""Which of a running process's binary pages are resident, by Swift module (or C symbol
prefix): reads /proc/PID/pagemap's present bits for the binary's mappings and maps each
resident 4 KiB page to the symbols that lie in it (nm). Needs root. To tell code the idle agent
runs from code that only start-up or a deploy touched, and what fault-around brought in with it.
Usage: scripts/bench.d/resident-code.py PID [BINARY]"""
import bisect
import collections
import os
import re
import struct
import subprocess
import sys

pid = int(sys.argv[1])
binary = os.path.realpath(sys.argv[2] if len(sys.argv) > 2 else f"/proc/{pid}/exe")
maps = []
for line in open(f"/proc/{pid}/maps"):
    parts = line.split()
    if len(parts) >= 6 and os.path.realpath(parts[5]) == binary:
        start, end = (int(x, 16) for x in parts[0].split("-"))
        maps.append((start, end, int(parts[2], 16), parts[1]))
base = min(start - offset for start, _, offset, _ in maps)


def module(name):
    m = re.match(r"\$s(\d+)([A-Za-z_][A-Za-z0-9_]*)", name)
    if m and len(m.group(2)) >= int(m.group(1)):
        return m.group(2)[: int(m.group(1))]
    if name.startswith("$ss") or name.startswith("$sS") or name.startswith("swift_"):
        return "Swift"
    if name.startswith("_Z"):
        return "C++ (runtime)"
    return "C"


symbols = []
out = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True).stdout
for line in out.splitlines():
    parts = line.split()
    if len(parts) == 4:
        symbols.append((int(parts[0], 16), int(parts[1], 16), module(parts[3])))
symbols.sort()
starts = [s[0] for s in symbols]

page = os.sysconf("SC_PAGE_SIZE")
resident = collections.Counter()
mapped = collections.Counter()
with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
    for start, end, _, perms in maps:
        pagemap.seek(start // page * 8)
        data = pagemap.read((end - start) // page * 8)
        for i in range(len(data) // 8):
            (entry,) = struct.unpack_from("<Q", data, i * 8)
            vaddr = start + i * page - base
            j = bisect.bisect_right(starts, vaddr) - 1
            owner = symbols[j][2] if j >= 0 and vaddr < symbols[j][0] + max(symbols[j][1], page) else "(no symbol)"
            key = (perms, owner)
            mapped[key] += 1
            if entry & (1 << 63):
                resident[key] += 1
rows = sorted(mapped, key=lambda k: -resident[k])
print(f"{'resident':>9} {'mapped':>9}  perms  module")
for key in rows[:25]:
    print(f"{resident[key] * page / 1024:7.0f}KB {mapped[key] * page / 1024:7.0f}KB  {key[0]}  {key[1]}")
print(f"{sum(resident.values()) * page / 1048576:.1f} MB resident of {sum(mapped.values()) * page / 1048576:.1f} MB mapped")
