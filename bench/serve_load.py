"""The REST API under load on loopback: N concurrent clients asking questions for T seconds.

    flock /tmp/segmint-heavy.lock python -m bench.serve_load [--users 100000] [--clients 1,20] [--seconds 30]

Starts `segmint serve` (with a token) on a sample-shop workspace of N customers (the one
`bench.ask` builds, built here if missing), then for each count in `--clients` runs that many httpx
async clients, each posting the questions of `bench.ask` to `/api/ask` one after another for
`--seconds`. Any status other than 200, or a count that differs from the same question's first
answer, is an error. Writes the "Serve (REST API under load)" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench.ask import OUT, QUESTIONS
from bench.harness import machine, measure, segmint, update_section

TOKEN = "bench-serve-load"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def workspace(users: int) -> Path:
    """The sample-shop workspace of `bench.ask` (built once)."""
    OUT.mkdir(exist_ok=True)
    shop = OUT / f"synth-{users}.parquet"
    ws = OUT / f"ws-ask-{users}"
    if not shop.exists():
        measure(segmint("synth", "--users", str(users), "-o", str(shop)))
    if not (ws / "segmint.duckdb").exists():
        measure(segmint("run", str(shop), "--users", f"{shop}.users.csv", "-w", str(ws), "--json"))
    return ws


def start_server(ws: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([*segmint("serve", "-w", str(ws), "--port", str(port))],
                            env={**os.environ, "SEGMINT_TOKEN": TOKEN},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("segmint serve exited")
        try:
            if httpx.get(f"{base}/api/summary", headers=_auth()).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("segmint serve did not start within 300 s")


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def client(base: str, index: int, until: float, expected: dict[str, int],
                 latencies: list[tuple[str, float]], errors: list[str]) -> None:
    async with httpx.AsyncClient(base_url=base, headers=_auth(), timeout=60) as http:
        turn = index
        while time.perf_counter() < until:
            question = QUESTIONS[turn % len(QUESTIONS)]
            turn += 1
            start = time.perf_counter()
            try:
                res = await http.post("/api/ask", json={"question": question})
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append((question, time.perf_counter() - start))
            if res.status_code != 200:
                errors.append(f"{res.status_code}: {res.text[:200]}")
            elif res.json()["count"] != expected[question]:
                errors.append(f"count {res.json()['count']} != {expected[question]} for {question}")


async def load(base: str, clients: int, seconds: float) -> dict[str, Any]:
    expected = {q: httpx.post(f"{base}/api/ask", json={"question": q}, headers=_auth(),
                              timeout=60).json()["count"] for q in QUESTIONS}
    latencies: list[tuple[str, float]] = []
    errors: list[str] = []
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(*(client(base, i, until, expected, latencies, errors) for i in range(clients)))
    wall = time.perf_counter() - start
    ordered = sorted(s for _, s in latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else float("nan")

    per_question = {q: statistics.median([s for qq, s in latencies if qq == q]) * 1000
                    for q in QUESTIONS if any(qq == q for qq, _ in latencies)}
    return {"requests": len(latencies), "errors": errors, "wall_s": wall,
            "rps": len(latencies) / wall, "p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99),
            "max": ordered[-1] * 1000 if ordered else float("nan"), "per_question": per_question}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--clients", default="1,20", help="Comma-separated client counts, one run each.")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-write", action="store_true", help="Print, do not update RESULTS.md.")
    opts = parser.parse_args()
    counts = [int(c) for c in str(opts.clients).split(",")]
    ws = workspace(opts.users)
    proc, base = start_server(ws)
    results = []
    try:
        for clients in counts:
            results.append((clients, asyncio.run(load(base, clients, opts.seconds))))
        rss = peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    errors = [e for _, r in results for e in r["errors"]]
    busiest = results[-1][1]
    body = "\n".join([
        f"`python -m bench.serve_load --users {opts.users} --clients {opts.clients} "
        f"--seconds {opts.seconds:g}` on {date.today()}: {machine()}.",
        f"`segmint serve` (one uvicorn process, token on) on loopback; N httpx async clients each post "
        f"the {len(QUESTIONS)} questions of `bench.ask` to `/api/ask` in turn for {opts.seconds:g} s "
        f"(built-in parser, {opts.users:,}-customer sample shop). An error is a non-200 status or a "
        "count different from the question's answer before the load. Server peak RSS over all runs: "
        f"{rss:.0f} MiB.",
        "",
        "| clients | requests | errors | requests/s | p50 ms | p90 ms | p99 ms | max ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {n} | {r['requests']:,} | {len(r['errors'])} | {r['rps']:.1f} | {r['p50']:.0f} | "
          f"{r['p90']:.0f} | {r['p99']:.0f} | {r['max']:.0f} |" for n, r in results),
        "",
        f"Median latency per question with {results[-1][0]} clients:",
        "",
        "| question | median ms |",
        "|---|---:|",
        *(f"| {q} | {ms:.0f} |" for q, ms in busiest["per_question"].items()),
        "",
        "The cores are shared with whatever else runs on the machine: with N clients a request "
        "waits for the N-1 others, so compare the 1-client row with the Ask section.",
    ])
    if errors:
        body += "\n\nFirst errors:\n" + "\n".join(f"- {e}" for e in errors[:5])
    print(body)
    if not opts.no_write:
        update_section("Serve (REST API under load)", body)
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
