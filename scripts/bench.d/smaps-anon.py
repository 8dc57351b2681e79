#!/usr/bin/env python3
"""Prints a process's resident anonymous mappings from a saved smaps file, largest first, with
what each one probably is (a thread stack, a glibc arena heap, the main heap), to tell where
the idle agent's anonymous memory goes. Usage: scripts/bench.d/smaps-anon.py SMAPS"""
import re
import sys

rows = []
current = None
for line in open(sys.argv[1]):
    m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
    if m:
        start, end = int(m.group(1), 16), int(m.group(2), 16)
        current = {"size": (end - start) // 1024, "perms": m.group(3), "name": m.group(4) or "[anonymous]", "rss": 0}
        rows.append(current)
    elif line.startswith("Rss:") and current is not None:
        current["rss"] = int(line.split()[1])
total = 0
for row in sorted(rows, key=lambda r: -r["rss"]):
    if row["name"] not in ("[anonymous]", "[heap]") and not row["name"].startswith("[stack"):
        continue
    if row["rss"] == 0:
        continue
    total += row["rss"]
    size = row["size"]
    guess = row["name"]
    if row["name"] == "[anonymous]":
        if size in (8192, 8188, 8196):
            guess = "thread stack (8 MB)"
        elif 1024 <= size <= 65536 and row["perms"] == "rw-p":
            guess = "glibc arena heap or mmap'd allocation"
    print(f"{row['rss']:8d} KB rss of {size:8d} KB  {row['perms']}  {guess}")
print(f"{total:8d} KB in all")
