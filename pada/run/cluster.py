"""What a SLURM cluster says, through its command-line tools: partitions (``sinfo``), job states
(``squeue``; ``sacct`` only when accounting is on), and the job's own environment inside a job.

Every query has a timeout and returns ``None`` when the tool is missing or fails, so callers decide.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from typing import Any

# Job states in which a job may still produce a result (squeue's long names).
ALIVE_STATES = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "REQUEUED",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "RESIZING",
        "SUSPENDED",
        "STAGE_OUT",
        "SIGNALING",
        "STOPPED",
    }
)


def _query(args: list[str], timeout: float = 30) -> str | None:
    if shutil.which(args[0]) is None:
        return None
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


@dataclass(frozen=True)
class Partition:
    """One partition as ``sinfo`` reports it; sizes are per node, of the largest node in the partition."""

    name: str
    default: bool
    up: bool
    cpus: int
    mem_mb: int
    gpus: int
    time_limit_min: float | None  # None: no limit


def _minutes(limit: str) -> float | None:
    """sinfo's ``%l``: ``infinite``, ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM`` or ``D-HH:MM:SS``."""
    if limit in ("infinite", "UNLIMITED", "n/a"):
        return None
    days, _, rest = limit.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:  # D-HH[:MM[:SS]]
        parts += [0] * (3 - len(parts))
        hours, minutes, seconds = parts
        return int(days) * 1440 + hours * 60 + minutes + seconds / 60
    if len(parts) == 1:
        return float(parts[0])
    if len(parts) == 2:
        return parts[0] + parts[1] / 60
    return parts[0] * 60 + parts[1] + parts[2] / 60


def _gpus(gres: str) -> int:
    """``gpu:4``, ``gpu:a100:4(S:0-1)``, ``gpu:2,shard:8`` -> GPUs per node; ``(null)`` -> 0."""
    total = 0
    for item in gres.split(","):
        fields = re.sub(r"\(.*?\)", "", item).split(":")
        if fields[0] == "gpu" and fields[-1].isdigit():
            total += int(fields[-1])
    return total


def partitions() -> list[Partition] | None:
    """Every partition with its largest node (``sinfo``); None when sinfo is absent or fails."""
    out = _query(["sinfo", "-h", "-N", "-o", "%P|%a|%c|%m|%G|%l"])
    if out is None:
        return None
    found: dict[str, Partition] = {}
    for line in out.splitlines():
        name, avail, cpus, mem, gres, limit = line.split("|")
        default = name.endswith("*")
        name = name.rstrip("*")
        node = Partition(
            name,
            default,
            avail == "up",
            int(cpus.rstrip("+")),
            int(mem.rstrip("+")),
            _gpus(gres),
            _minutes(limit),
        )
        old = found.get(name)
        if old is None or (node.cpus, node.mem_mb, node.gpus) > (old.cpus, old.mem_mb, old.gpus):
            found[name] = node
    return list(found.values())


def check_resources(params: dict[str, Any]) -> list[str]:
    """Problems (one line each) with a job request against ``sinfo``: partition, GPUs, CPUs, memory, time.

    ``params``: the launcher's settings (``partition``, ``gpus_per_node``, ``cpus_per_task``,
    ``tasks_per_node``, ``mem_gb``, ``timeout_min``); GB are SLURM's (1024 MB)."""
    found = partitions()
    if found is None:
        return ["launcher=slurm but `sinfo` does not answer: run from a SLURM login node, or launcher=local"]
    wanted = params.get("partition")
    chosen = [p for p in found if (p.name == wanted if wanted else p.default)]
    names = ", ".join(p.name for p in found) or "none"
    if not chosen:
        if wanted:
            return [
                f"SLURM partition '{wanted}' does not exist (partitions: {names}); "
                "set hydra.launcher.partition=<name>"
            ]
        return [f"no default SLURM partition; set hydra.launcher.partition=<one of: {names}>"]
    part, fix = chosen[0], "hydra.launcher"
    problems = [] if part.up else [f"SLURM partition '{part.name}' is not up"]
    cpus = (params.get("cpus_per_task") or 1) * (params.get("tasks_per_node") or 1)
    asks = [
        ("GPUs", params.get("gpus_per_node") or 0, part.gpus, "gpus_per_node"),
        ("CPUs", cpus, part.cpus, "cpus_per_task"),
        ("GB memory", params.get("mem_gb") or 0, part.mem_mb / 1024, "mem_gb"),
    ]
    for what, asked, has, key in asks:
        if asked > has:
            problems.append(
                f"launcher asks {asked:g} {what} per node but partition '{part.name}' has at most "
                f"{has:g}; set {fix}.{key}=<= {has:g}"
            )
    limit, asked = part.time_limit_min, params.get("timeout_min") or 0
    if limit is not None and asked > limit:
        problems.append(
            f"launcher asks {asked} min but partition '{part.name}' allows {limit:g}; "
            f"set {fix}.timeout_min=<= {limit:g}"
        )
    return problems


def job_states(job_ids: list[str]) -> dict[str, str] | None:
    """``{job_id: state}`` for this user's jobs slurmctld still knows (finished ones for ``MinJobAge``,
    300 s by default); None when squeue fails. Array tasks are listed as ``<array>_<index>``."""
    out = _query(["squeue", "-h", "-t", "all", "-u", getpass.getuser(), "-o", "%i|%T"])
    if out is None:
        return None
    states = dict(line.split("|", 1) for line in out.splitlines() if "|" in line)
    return {j: states[j] for j in job_ids if j in states}


def accounting_state(job_id: str) -> str | None:
    """The job's final state from ``sacct`` (CANCELLED, OUT_OF_MEMORY, ...); None without accounting."""
    out = _query(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State"], timeout=20)
    lines = [line.split()[0] for line in (out or "").splitlines() if line.strip()]
    return lines[-1] if lines else None


def job_environment() -> dict[str, Any]:
    """Where this process runs: host, and under SLURM the job id, array index and restart count."""
    env = os.environ
    info: dict[str, Any] = {"host": socket.gethostname()}
    if "SLURM_JOB_ID" not in env:
        return info
    info.update(
        scheduler="slurm",
        job_id=env["SLURM_JOB_ID"],
        job_name=env.get("SLURM_JOB_NAME"),
        array_job_id=env.get("SLURM_ARRAY_JOB_ID"),
        array_index=env.get("SLURM_ARRAY_TASK_ID"),
        restarts=int(env.get("SLURM_RESTART_COUNT", 0)),
    )
    if env.get("SUBMITIT_EXECUTOR") == "slurm":
        import submitit

        paths = submitit.JobEnvironment().paths
        info.update(stdout=str(paths.stdout), stderr=str(paths.stderr))
    return info


def last_error_line(text: str) -> str | None:
    """The line a reader wants from a failed job's log: the last ``Error``/``error:`` line, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.search(r"(Error|Exception|error:|Killed|CANCELLED|DUE TO)", line):
            return line
    return lines[-1] if lines else None
