"""`segmint run --engine ray` against the local engine on one machine: same segments, and how
encoding scales with the actors (1 vs 2).

    python -m bench.ray_e2e [--users 20000] [--embedder minilm] [--cpus 1,2]

The shop is the long-tail sample shop (`bench.long_tail`): tens of thousands of distinct texts,
so the actors have real encoding to share. Every run is a fresh `segmint run` process with an
empty vector cache (the exported models are copied in first, so no run pays the one-off export).
The Ray runs join a cluster started for them the way a user starts one (`ray start --head
--num-cpus N`, then `--ray-address`): one actor per CPU, each encoding on one core. Compares every
customer's segment and membership with the local run's, and writes the "Ray engine" section of
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from bench.harness import machine, measure, segmint, update_section
from bench.long_tail import long_tail_shop
from bench.run_e2e import OUT, load_average

COMPARE = """
import sys, duckdb
a, b = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
n, same, close = con.execute(
    "SELECT count(*), count(*) FILTER (WHERE x.segment_id = y.segment_id), "
    "max(abs(x.membership - y.membership)) FROM a.users x JOIN b.users y USING (user_id)").fetchone()
print(n, same, close)
"""


@contextmanager
def ray_cluster(cpus: int, scratch: Path) -> Iterator[str]:
    """A one-node Ray cluster of `cpus` CPUs, started as a user would; yields its address.

    `ray start --block` stays in the foreground and stops the node's processes when it ends, so
    the cluster is stopped through the one process group this bench started.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray = Path(sys.executable).with_name("ray")
    temp = Path(tempfile.mkdtemp(prefix="rb-", dir="/tmp"))
    proc = subprocess.Popen([str(ray), "start", "--head", "--block", f"--num-cpus={cpus}",
                             f"--port={port}", "--include-dashboard=false", "--disable-usage-stats",
                             f"--temp-dir={temp}"], stdout=subprocess.DEVNULL,
                            # Its own process group (to stop it) but this session: the kernel's
                            # autogroup scheduling shares CPU by session, and the node's workers
                            # must compete for it as the local run does.
                            stderr=(scratch / f"ray-{cpus}.log").open("w"), process_group=0,
                            env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    try:
        address = f"127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(1)
        time.sleep(5)  # the GCS answers before the raylet has registered the node's CPUs
        yield address
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def one_run(shop: Path, spec: str, scratch: Path, name: str, extra: list[str]) -> str:
    """One cold `segmint run` (models copied into its empty cache); its results row."""
    cache = scratch / f"cache-{name}"
    models = Path(os.environ.get("SEGMINT_CACHE_DIR", Path.home() / ".cache" / "segmint")) / "models"
    if models.exists():
        shutil.copytree(models, cache / "models")
    load = load_average()
    m = measure(segmint("run", str(shop), "--users", f"{shop}.users.csv", "--embedder", spec,
                        *extra, "-w", str(scratch / name), "--json"),
                env={"SEGMINT_CACHE_DIR": str(cache)})
    doc = m.output or {}
    s, emb = doc.get("seconds", {}), doc.get("embedding", {})
    parts = emb.get("seconds", {})
    engine = doc.get("engine", {})
    actors = engine.get("encoder_actors", "—")
    return (f"| {name} | {doc.get('users', 0):,} | {emb.get('embedded', 0):,} | {actors} | "
            f"{parts.get('encode', 0):.1f} | {s.get('embed', 0):.1f} | {s.get('segment', 0):.1f} | "
            f"{m.wall_s:.1f} | {m.peak_rss_mib / 1024:.2f} | {doc.get('segments')} | {load} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--cpus", default="1,2", help="Ray cluster sizes to run on")
    opts = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    shop = long_tail_shop(opts.users)
    scratch = Path(tempfile.mkdtemp(prefix="ray-", dir=OUT))
    rows = []
    try:
        rows.append(one_run(shop, opts.embedder, scratch, "local", []))
        print(rows[-1], flush=True)
        names = []
        for cpus in (int(c) for c in opts.cpus.split(",")):
            name = f"ray, {cpus} CPU{'s' if cpus > 1 else ''}"
            with ray_cluster(cpus, scratch) as address:
                rows.append(one_run(shop, opts.embedder, scratch, name,
                                    ["--engine", "ray", "--ray-address", address]))
            names.append(name)
            print(rows[-1], flush=True)
        same = []
        for name in names:
            out = subprocess.run([sys.executable, "-c", COMPARE,
                                  str(scratch / "local" / "segmint.duckdb"),
                                  str(scratch / name / "segmint.duckdb")],
                                 capture_output=True, text=True, check=True).stdout.split()
            same.append(f"{name}: same segment for {int(out[1]):,} of {int(out[0]):,} customers, "
                        f"largest membership difference {float(out[2]):.2g}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    body = "\n".join([
        f"`python -m bench.ray_e2e --users {opts.users} --embedder {opts.embedder}` on "
        f"{date.today()}: {machine()}.",
        "",
        "Long-tail sample shop; each run a fresh `segmint run` with an empty vector cache (exported "
        "models copied in). Ray runs join a one-node cluster started beforehand with `ray start "
        "--head --num-cpus N` and `--ray-address`: one encoder actor per CPU, one core each; the "
        "local engine encodes on both cores in one process. Peak RSS is the driver's only.",
        "",
        "| engine | customers | texts encoded | actors | encode s | embed s | segment s | wall s "
        "| driver peak RSS GiB | segments | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
        *[f"- {line}." for line in same],
    ])
    update_section("Ray engine", body)
    print(body)


if __name__ == "__main__":
    main()
