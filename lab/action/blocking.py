"""Finding and ending processes that hold locks on the target's SQLite files (kill-blocking-queries).

SQLite takes POSIX byte-range locks (fcntl) on the database file and, in WAL mode, on `-shm`;
the kernel lists them in /proc/locks as `<id>: POSIX ADVISORY WRITE <pid> <maj>:<min>:<inode> ...`.
The target's own connections show up there too, which is why callers pass the pids to protect.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from pydantic import BaseModel

PROC_LOCKS = Path("/proc/locks")
SUFFIXES = ("", "-wal", "-shm")


@dataclass(frozen=True)
class LockEntry:
    pid: int
    kind: str
    mode: str
    device: tuple[int, int]
    inode: int


class LockHolder(BaseModel):
    pid: int
    command: str
    files: list[str]
    modes: list[str]
    held_seconds: float | None = None


class Skipped(BaseModel):
    pid: int
    reason: str


class BlockingResult(BaseModel):
    db_path: str
    holders: list[LockHolder]
    terminated: list[LockHolder]
    skipped: list[Skipped]


def parse_proc_locks(text: str) -> list[LockEntry]:
    """Entries of /proc/locks with a real pid (OFD locks show -1; blocked waiters are prefixed `->`)."""
    entries = []
    for line in text.splitlines():
        fields = [f for f in line.split() if f != "->"]
        if len(fields) < 6:
            continue
        try:
            pid = int(fields[4])
            major, minor, inode = fields[5].split(":")
            entry = LockEntry(pid, fields[1], fields[3], (int(major, 16), int(minor, 16)), int(inode))
        except ValueError:
            continue
        if pid > 0:
            entries.append(entry)
    return entries


def database_files(db_path: Path) -> dict[tuple[tuple[int, int], int], str]:
    """(device, inode) → file name, for the database and its WAL and shared-memory files that exist."""
    files = {}
    for suffix in SUFFIXES:
        path = Path(f"{db_path}{suffix}")
        with contextlib.suppress(OSError):
            st = path.stat()
            files[((os.major(st.st_dev), os.minor(st.st_dev)), st.st_ino)] = path.name
    return files


def _describe(pid: int) -> tuple[str, float | None]:
    try:
        process = psutil.Process(pid)
        return " ".join(process.cmdline())[:200], max(0.0, time.time() - process.create_time())
    except (psutil.Error, OSError):
        return "", None


def find_lock_holders(db_path: Path, locks_text: str | None = None) -> list[LockHolder]:
    files = database_files(db_path)
    text = locks_text if locks_text is not None else PROC_LOCKS.read_text()
    by_pid: dict[int, tuple[set[str], set[str]]] = {}
    for entry in parse_proc_locks(text):
        name = files.get((entry.device, entry.inode))
        if name is not None:
            names, modes = by_pid.setdefault(entry.pid, (set(), set()))
            names.add(name)
            modes.add(entry.mode)
    holders = []
    for pid, (names, modes) in sorted(by_pid.items()):
        command, held = _describe(pid)
        holders.append(
            LockHolder(pid=pid, command=command, files=sorted(names), modes=sorted(modes), held_seconds=held)
        )
    return holders


def _gone(process: psutil.Process) -> bool:
    """Exited, or a zombie waiting for its parent to reap it (its locks are already released)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(process: psutil.Process, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(process):
            return True
        time.sleep(0.05)
    return _gone(process)


def _terminate(pid: int, grace: float) -> bool:
    """SIGTERM, then SIGKILL after `grace`; True once the process is gone."""
    try:
        process = psutil.Process(pid)
        process.terminate()
        if _wait_gone(process, grace):
            return True
        process.kill()
        return _wait_gone(process, grace)
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def with_descendants(pids: set[int]) -> set[int]:
    """`pids` and their children, recursively: a container's first process may be an init (compose's
    `init: true`) whose child is the target that holds the locks."""
    found = set(pids)
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            found.update(child.pid for child in psutil.Process(pid).children(recursive=True))
    return found


def kill_blocking(
    db_path: Path, protected: set[int], min_age_seconds: float = 0.0, grace: float = 3.0
) -> BlockingResult:
    """Terminates every lock holder on the database files except young processes, this process and
    the `protected` pids with their descendants.

    Blocking (psutil waits): call it from a worker thread in async code.
    """
    protected = with_descendants(protected) | {os.getpid()}
    holders = find_lock_holders(db_path)
    terminated, skipped = [], []
    for holder in holders:
        if holder.pid in protected:
            skipped.append(Skipped(pid=holder.pid, reason="protected (the target or the action server)"))
        elif holder.held_seconds is not None and holder.held_seconds < min_age_seconds:
            skipped.append(Skipped(pid=holder.pid, reason=f"younger than {min_age_seconds:g} s"))
        elif _terminate(holder.pid, grace):
            terminated.append(holder)
        else:
            skipped.append(Skipped(pid=holder.pid, reason="could not be terminated"))
    return BlockingResult(db_path=str(db_path), holders=holders, terminated=terminated, skipped=skipped)
