"""Detached background processes that are started, checked and stopped by PID only.

A process is identified by its PID *and* its start time (clock ticks since boot, from
/proc/PID/stat) read right after it started, and it must still lead the session it was
started in; so a PID that the kernel has since handed to another program is never
signalled. The command line is recorded too, for people, but is not part of the
identity: it legitimately changes when a wrapper execs the real program or a program
renames itself (a Faust worker does, when setproctitle is installed), and a check on it
would then leave such processes running. Nothing here looks processes up by name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ProcessRecord = dict[str, Any]  # {"pid", "argv", "cmdline", "start_ticks", "log", "log_offset"}

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
    # Popen returns after exec succeeded, so /proc already shows the new program.
    return {
        "pid": proc.pid,
        "argv": list(argv),
        "cmdline": read_cmdline(proc.pid),
        "start_ticks": read_start_ticks(proc.pid),
        "log": str(log_path),
        "log_offset": log_offset,
    }


def read_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


def _read_stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (which may contain spaces)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def read_start_ticks(pid: int) -> int | None:
    """Start time of the process in clock ticks since boot (field 22 of /proc/PID/stat)."""
    fields = _read_stat_fields(pid)
    return int(fields[19]) if fields else None


def _is_zombie(fields: list[str]) -> bool:
    return fields[0] in ("Z", "X")


def _session_id(fields: list[str]) -> int:
    return int(fields[3])


def _reap_if_ours(pid: int) -> None:
    proc = _CHILDREN.get(pid)
    if proc is not None and proc.poll() is not None:
        del _CHILDREN[pid]


def is_running(record: ProcessRecord) -> bool:
    """True if the recorded process still runs: same PID, same start time, still the
    leader of its own session. A PID reused by another program counts as not running."""
    pid = int(record["pid"])
    _reap_if_ours(pid)
    fields = _read_stat_fields(pid)
    if fields is None or _is_zombie(fields):
        return False
    return int(fields[19]) == record.get("start_ticks") and _session_id(fields) == pid


def _wait_gone(record: ProcessRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(record):
            return True
        time.sleep(0.05)
    return not is_running(record)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Each process leads its own session (start_new_session), so its group holds it and
    # any helpers it forked; signal the whole group, or just the PID if it left it.
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop(record: ProcessRecord, term_timeout: float = 10.0, kill_timeout: float = 5.0) -> bool:
    """SIGTERM the recorded process, SIGKILL it if it has not exited after term_timeout.
    Returns True if it was running and is now gone, False if it was not running (or the
    PID now belongs to another program, which is left alone). Raises if it survives."""
    if not is_running(record):
        return False
    pid = int(record["pid"])
    _signal_group(pid, signal.SIGTERM)
    if _wait_gone(record, term_timeout):
        return True
    _signal_group(pid, signal.SIGKILL)
    if _wait_gone(record, kill_timeout):
        return True
    raise ProcessError(f"process {pid} ({record['argv'][0]}) survived SIGKILL")


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
