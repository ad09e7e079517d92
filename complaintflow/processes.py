"""Detached background processes that are started, checked and stopped by PID only.

A process is identified by its PID *and* its create time, read with psutil right after it
started, and it must still lead the session it was started in; so a PID that the kernel has
since handed to another program is never signalled. The create time is kept as seconds since
boot (the kernel's own start time of the process), not as a date: a change of the system
clock (NTP, a resumed laptop) must not make a running process look like another one.

The command line is recorded too, for people, but is not part of the identity: it
legitimately changes when a wrapper execs the real program or a program renames itself (a
Faust worker does, when setproctitle is installed), and a check on it would then leave such
processes running. Nothing here looks processes up by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import psutil

# {"pid", "argv", "cmdline", "create_time_since_boot", "log", "log_offset"}; records written
# before psutil was used have "start_ticks" (the same instant in clock ticks) instead.
ProcessRecord = dict[str, Any]

CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
# Linux counts process start times in clock ticks: two readings of one process's create
# time agree to well within half a tick, two processes that share a PID differ by more.
_SAME_START_S = 0.5 / CLOCK_TICKS_PER_S
_GONE = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)

# Popen objects of the processes this interpreter started, kept so they can be reaped
# (otherwise a stopped child stays a zombie, which still has a /proc entry).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class ProcessError(RuntimeError):
    """A process could not be started, did not become ready, or would not stop."""


def free_loopback_ports(count: int) -> list[int]:
    """Ports the kernel reports free on 127.0.0.1; all sockets stay open until every
    port is picked, so the ports are distinct from each other."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_detached(
    argv: list[str], log_path: Path, env: Mapping[str, str] | None = None
) -> ProcessRecord:
    """Start argv in its own session (so it outlives us and ignores our terminal's
    signals), appending stdout and stderr to log_path, and return its record."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_offset = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log_file:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise ProcessError(f"cannot start {argv[0]}: {exc}") from exc
    _CHILDREN[proc.pid] = proc
    # Popen returns after exec succeeded, so the kernel already shows the new program.
    return {
        "pid": proc.pid,
        "argv": list(argv),
        "cmdline": read_cmdline(proc.pid),
        "create_time_since_boot": read_create_time_since_boot(proc.pid),
        "log": str(log_path),
        "log_offset": log_offset,
    }


def read_cmdline(pid: int) -> list[str] | None:
    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return None


def _since_boot(proc: psutil.Process) -> float:
    # psutil's create_time() is the kernel's start time (ticks since boot) plus the boot
    # time, i.e. a date on the system clock; taking the boot time off again gives back the
    # kernel's figure, which a change of the system clock leaves alone.
    return proc.create_time() - psutil.boot_time()


def read_create_time_since_boot(pid: int) -> float | None:
    """When the process started, in seconds since boot (None if there is no such process)."""
    try:
        return round(_since_boot(psutil.Process(pid)), 6)
    except psutil.Error:
        return None


def read_start_ticks(pid: int) -> int | None:
    """Start time of the process in clock ticks since boot (what records written before
    psutil was used hold as "start_ticks")."""
    since_boot = read_create_time_since_boot(pid)
    return None if since_boot is None else round(since_boot * CLOCK_TICKS_PER_S)


def _started_as_recorded(record: ProcessRecord, proc: psutil.Process) -> bool:
    since_boot = _since_boot(proc)
    recorded = record.get("create_time_since_boot")
    if recorded is not None:
        return abs(float(recorded) - since_boot) < _SAME_START_S
    legacy_ticks = record.get("start_ticks")
    return legacy_ticks is not None and round(since_boot * CLOCK_TICKS_PER_S) == legacy_ticks


def _reap_if_ours(pid: int) -> None:
    proc = _CHILDREN.get(pid)
    if proc is not None and proc.poll() is not None:
        del _CHILDREN[pid]


def _recorded_process(record: ProcessRecord) -> psutil.Process | None:
    """The recorded process if it still runs: same PID, same create time, not a zombie,
    still the leader of its own session; None otherwise (gone, or the PID was reused)."""
    pid = int(record["pid"])
    _reap_if_ours(pid)
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            if proc.status() in _GONE or not _started_as_recorded(record, proc):
                return None
        if os.getsid(pid) != pid:
            return None
    except (psutil.Error, OSError):  # gone (or the PID is not ours to look at)
        return None
    return proc


def is_running(record: ProcessRecord) -> bool:
    """True if the recorded process still runs: same PID, same start time, still the
    leader of its own session. A PID reused by another program counts as not running."""
    return _recorded_process(record) is not None


def _alive(proc: psutil.Process) -> bool:
    """psutil's is_running() checks PID and create time, so a reused PID is not alive."""
    try:
        return proc.is_running() and proc.status() not in _GONE
    except psutil.Error:
        return False


def _descendants(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def _signal_tree(record: ProcessRecord, tree: Iterable[psutil.Process],
                 sig: signal.Signals) -> None:
    """Signal the recorded process's group and every process of its tree.

    Each recorded process leads its own session and group (start_new_session), so the group
    holds it and any helpers it forked, even those whose parent has exited; the tree (found
    by psutil through parent PIDs) adds descendants that moved to a group of their own.
    psutil's send_signal checks the create time first, so a PID reused meanwhile is spared.
    """
    pid = int(record["pid"])
    if is_running(record):
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
    for proc in tree:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)


def _wait_gone(record: ProcessRecord, tree: list[psutil.Process], timeout: float) -> bool:
    """Wait until the recorded process and its tree are gone; True if they are."""
    deadline = time.monotonic() + timeout
    while True:
        if not is_running(record) and not any(_alive(proc) for proc in tree):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def stop(record: ProcessRecord, term_timeout: float = 10.0, kill_timeout: float = 5.0) -> bool:
    """SIGTERM the recorded process and its tree, SIGKILL what has not exited after
    term_timeout. Returns True if it was running and is now gone, False if it was not
    running (or the PID now belongs to another program, which is left alone). Raises if it
    survives."""
    leader = _recorded_process(record)
    if leader is None:
        return False
    tree = [leader, *_descendants(leader)]
    _signal_tree(record, tree, signal.SIGTERM)
    if _wait_gone(record, tree, term_timeout):
        return True
    # Whatever it forked while shutting down is stopped too.
    tree += [proc for proc in _descendants(leader) if proc not in tree]
    _signal_tree(record, tree, signal.SIGKILL)
    _wait_gone(record, tree, kill_timeout)
    if is_running(record):
        raise ProcessError(f"process {record['pid']} ({record['argv'][0]}) survived SIGKILL")
    return True


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll check() until it returns True; raise ProcessError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() >= deadline:
            raise ProcessError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def log_contains(record: ProcessRecord, text: str) -> bool:
    """True if the process's log, from where it was when the process started, has text."""
    try:
        with open(record["log"], "rb") as log_file:
            log_file.seek(int(record.get("log_offset", 0)))
            return text.encode() in log_file.read()
    except OSError:
        return False


def log_tail(record: ProcessRecord, lines: int = 20) -> str:
    try:
        content = Path(record["log"]).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(content.splitlines()[-lines:])
