#!/usr/bin/env python3
"""What one `fdatasync` costs on this disk, by how much data it covers and
whether the file grows.

Group commit makes one flush cover N records, so a flush of 16 x 4 KiB
records is a 64 KiB flush. This prints the median and mean time of
`write` + `fdatasync` for records of 4 KiB and 64 KiB, three ways:

* append: the file grows with every record (what a WAL appender does),
* overwrite: the blocks exist and the size stays (a pre-zeroed file),
* falloc-keep-size: blocks reserved by `fallocate(FALLOC_FL_KEEP_SIZE)`,
  the size still grows.

Usage: python3 scripts/fdatasync_cost.py [DIR]   (DIR defaults to target/)
"""

import ctypes
import os
import statistics
import sys
import time

FALLOC_FL_KEEP_SIZE = 1
COMMITS = 300


def measure(directory, how, record):
    path = os.path.join(directory, f"fdatasync-cost.{how}")
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        total = record * COMMITS
        if how == "overwrite":
            os.write(fd, b"\0" * total)
            os.fsync(fd)
            os.lseek(fd, 0, os.SEEK_SET)
        elif how == "falloc-keep-size":
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.fallocate(fd, FALLOC_FL_KEEP_SIZE, ctypes.c_long(0), ctypes.c_long(total)):
                raise OSError(ctypes.get_errno(), "fallocate")
            os.fsync(fd)
        data = b"Z" * record
        times = []
        for _ in range(COMMITS):
            os.write(fd, data)
            started = time.perf_counter()
            os.fdatasync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(times), statistics.fmean(times)


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "target"
    os.makedirs(directory, exist_ok=True)
    print(f"{'how':18} {'record':>7} {'p50':>8} {'mean':>8}")
    for record in (4096, 65536):
        for how in ("append", "overwrite", "falloc-keep-size"):
            p50, mean = measure(directory, how, record)
            print(f"{how:18} {record:7} {p50 * 1e6:6.0f}us {mean * 1e6:6.0f}us")


if __name__ == "__main__":
    main()
