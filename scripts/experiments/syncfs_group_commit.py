"""Small durable writes: one file fsync + rename + directory fsync per write,
against a group commit with syncfs (16 threads, 4 KiB files, 4 s each, two
rounds side by side). Usage: python3 syncfs_group_commit.py [DIR]
(DIR on the filesystem to measure; default: a temp dir under the current one,
removed at the end). See docs/PERFORMANCE.md, "What was tried"."""
import shutil
import os, threading, time, ctypes
libc = ctypes.CDLL("libc.so.6", use_errno=True)
import tempfile, sys
OWN = len(sys.argv) < 2
D = tempfile.mkdtemp(prefix="syncfs-", dir=".") if OWN else sys.argv[1]
data = os.urandom(4096)
N, T = 16, 4.0
def per_write(i, stop, cnt):
    dfd = os.open(D, os.O_RDONLY)
    n = 0
    while not stop.is_set():
        tmp = f"{D}/.t{i}"; fd = os.open(tmp, os.O_WRONLY|os.O_CREAT|os.O_TRUNC, 0o644)
        os.write(fd, data); os.fsync(fd); os.close(fd)
        os.rename(tmp, f"{D}/k{i}-{n%8}"); os.fsync(dfd); n += 1
    cnt[i] = n
def grouped(i, stop, cnt, barrier, dfd):
    n = 0
    try:
      while not stop.is_set():
        tmp = f"{D}/.g{i}"; fd = os.open(tmp, os.O_WRONLY|os.O_CREAT|os.O_TRUNC, 0o644)
        os.write(fd, data); os.close(fd)
        if barrier.wait() == 0: libc.syncfs(dfd)
        barrier.wait()
        os.rename(tmp, f"{D}/g{i}-{n%8}")
        if barrier.wait() == 0: libc.syncfs(dfd)
        barrier.wait(); n += 1
    except threading.BrokenBarrierError:
        pass
    cnt[i] = n
for name in ["per_write", "grouped", "per_write", "grouped"]:
    stop = threading.Event(); cnt = [0]*N
    dfd = os.open(D, os.O_RDONLY); b = threading.Barrier(N, timeout=30)
    ts = [threading.Thread(target=per_write, args=(i, stop, cnt)) if name=="per_write" else threading.Thread(target=grouped, args=(i, stop, cnt, b, dfd)) for i in range(N)]
    [t.start() for t in ts]; time.sleep(T); stop.set()
    if name == "grouped":
        b.abort()
    for t in ts:
        try: t.join()
        except Exception: pass
    print(name, sum(cnt)/T, "writes/s")
if OWN:
    shutil.rmtree(D)
