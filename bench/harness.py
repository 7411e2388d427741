"""Shared benchmark plumbing: run a command in a child process, time it, read its peak RSS,
and rewrite one section of bench/RESULTS.md.

Benchmarks are plain scripts (`python -m bench.<name>`), never timed tests.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


@dataclass
class Measurement:
    """One run of a command: wall seconds, peak resident memory, and its JSON output if any."""

    wall_s: float
    peak_rss_mib: float
    output: dict[str, Any] | None


def measure(cmd: list[str], env: dict[str, str] | None = None) -> Measurement:
    """Run `cmd` to completion and report wall time and the child's own peak RSS (wait4)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errfile,
                                env={**os.environ, **(env or {})})
        assert proc.stdout is not None
        out = proc.stdout.read()
        # wait4 rather than wait: it returns this child's own resource usage.
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            errfile.seek(0)
            tail = errfile.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{tail}")
    rss_kib = usage.ru_maxrss
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    return Measurement(wall, rss_kib / 1024, doc)


CEILING_CODE = """
import json, time, numpy as np
a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32); b = a.T.copy()
a @ b
best = 0.0
for _ in range(8):
    t = time.perf_counter(); r = 0
    while time.perf_counter() - t < 0.25:
        a @ b; r += 1
    best = max(best, 2 * 2048 ** 3 * r / (time.perf_counter() - t) / 1e9)
print(json.dumps(best))
"""


def ceiling() -> float:
    """The machine's fp32 matrix-multiply ceiling now: numpy's own BLAS (2048^3, all threads),
    best of eight quarter-second bursts in a fresh process, in GFLOP/s.

    Measured beside what it is compared with, under the same load: a share of it is a share of
    what this machine could do at that moment, not of a datasheet peak.
    """
    out = measure([sys.executable, "-c", CEILING_CODE]).output
    return float(out) if isinstance(out, (int, float)) else 0.0


def median(values: list[float]) -> float:
    """Median, the statistic every results table reports (timings here are noisy)."""
    return float(statistics.median(values))


def machine() -> str:
    """One line describing the machine the numbers were taken on."""
    cpu = "unknown CPU"
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"model name\s*:\s*(.+)", text)
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def update_section(title: str, body: str) -> None:
    """Replace (or append) the `## title` section of RESULTS.md with `body`."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    block = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: block + "\n", text) if pattern.search(text) else (
        text.rstrip() + "\n\n" + block)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, RESULTS)


def segmint(*args: str) -> list[str]:
    """The command line of the installed segmint, run by this interpreter."""
    return [sys.executable, "-m", "segmint.agent", *args]


def load_online_retail_events(con: Any, path: Path) -> None:
    """The UCI Online Retail purchases and returns as an `events` table (user_id, ts, event_type,
    text) on `con`, for benchmarks that embed customers without a full run."""
    con.execute(f"""CREATE TABLE events AS SELECT
        regexp_replace(CAST(CustomerID AS VARCHAR), '\\.0+$', '') AS user_id,
        CAST(InvoiceDate AS TIMESTAMP) AS ts,
        CASE WHEN Quantity < 0 THEN 'return' ELSE 'purchase' END AS event_type,
        trim(Description) AS text FROM read_csv('{path}') WHERE CustomerID IS NOT NULL""")
