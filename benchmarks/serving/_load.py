"""Measuring a running server: time to ready, CPU of its process tree, load and latency through wrk."""

from __future__ import annotations

import http.client
import json
import os
import resource
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LUA = Path(__file__).resolve().parent / "wrk_post.lua"
_TICK = os.sysconf("SC_CLK_TCK")


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # the process ended between listing and reading
        return None
    # the command name may hold spaces and parentheses: the fields start after the last ")"
    return raw[raw.rfind(")") + 2 :].split()


def tree_pids(root: int) -> list[int]:
    """``root`` and every live descendant, found through each process's parent id."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def start_ticks(pid: int) -> int | None:
    """When live ``pid`` started (clock ticks since boot), to tell it from a later process with its id."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):  # gone, or dead and waiting to be reaped
        return None
    return int(fields[19])  # stat(5) field 22


def tree_cpu_seconds(root: int) -> float:
    """utime + stime of ``root`` and its descendants, plus what their reaped children used."""
    ticks = 0
    for pid in tree_pids(root):
        fields = _stat_fields(pid)
        if fields is not None:
            # stat(5) fields 14-17 (utime, stime, cutime, cstime); fields[0] here is field 3 (state)
            ticks += sum(int(v) for v in fields[11:15])
    return ticks / _TICK


def _get_status(url: str, timeout: float) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def wait_ready(url: str, *, proc: subprocess.Popen[bytes], started: float, timeout: float) -> float:
    """Seconds from ``started`` (taken just before the process was spawned) to the first 200 from ``url``."""
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered 200")
        try:
            if _get_status(url, timeout=1.0) == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:g} s")


def post_json(url: str, body: bytes, *, timeout: float = 10.0) -> tuple[int, Any]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", parts.path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw)
    except ValueError:
        return resp.status, raw.decode(errors="replace")


def run_wrk(
    url: str, *, body_file: Path, connections: int, seconds: float, timing: bool = False
) -> dict[str, Any]:
    """One wrk run with one thread (the machine's cores are shared with the server), keep-alive.

    ``timing`` (one connection only) also times each request in the Lua script: the ``raw_*``
    percentiles, uncorrected for coordinated omission, unlike wrk's own (see wrk_post.lua).
    """
    if timing and connections != 1:
        raise ValueError("per-request timing needs one connection per wrk thread")
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (benchmarks/setup-anchors does it)")
    argv = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(LUA), url]
    env = {**os.environ, "BENCH_BODY_FILE": str(body_file), "BENCH_TIMING": "1" if timing else "0"}
    out = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line[len("BENCH_JSON ") :])
            break
    else:
        raise RuntimeError(f"wrk gave no summary (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
    errors = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors"))
    if errors or not result["requests"]:
        raise RuntimeError(
            f"wrk saw {errors} errors in {result['requests']} requests to {url}:\n{out.stdout}"
        )
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def machine_cpu_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine spent busy (all cores), and stolen by the hypervisor."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / _TICK, steal / _TICK


def wait_quiet(*, threshold: float, timeout: float, sample: float = 1.0) -> float:
    """Wait until the machine's busy CPU over ``sample`` seconds is under ``threshold`` cores.

    Returns the last sample (cores busy); gives up after ``timeout`` seconds and returns it anyway.
    """
    deadline = time.monotonic() + timeout
    while True:
        busy0, _ = machine_cpu_seconds()
        time.sleep(sample)
        busy = (machine_cpu_seconds()[0] - busy0) / sample
        if busy < threshold or time.monotonic() >= deadline:
            return busy
        time.sleep(2.0)


def loaded(
    root: int, url: str, *, body_file: Path, connections: int, seconds: float, timing: bool = False
) -> dict[str, Any]:
    """A wrk run with the server tree's CPU time counted around it, per request.

    Also what else ran meanwhile: CPU seconds per second (cores) used by processes other than the
    server and wrk, and stolen by the hypervisor; a busy neighbour inflates every figure of the run.
    """
    busy0, steal0 = machine_cpu_seconds()
    wrk0 = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk is the only child reaped meanwhile
    before = tree_cpu_seconds(root)
    t0 = time.perf_counter()
    result = run_wrk(url, body_file=body_file, connections=connections, seconds=seconds, timing=timing)
    wall = time.perf_counter() - t0
    result["cpu_s"] = tree_cpu_seconds(root) - before
    wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, steal1 = machine_cpu_seconds()
    result["cpu_ms_per_req"] = 1000 * result["cpu_s"] / result["requests"]
    result["wrk_cores"] = (wrk1.ru_utime + wrk1.ru_stime - wrk0.ru_utime - wrk0.ru_stime) / wall
    result["other_cores"] = max(0.0, (busy1 - busy0 - result["cpu_s"]) / wall - result["wrk_cores"])
    result["steal_cores"] = (steal1 - steal0) / wall
    return result
