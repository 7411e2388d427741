"""Cold start of the read commands, side by side with the plain-import floor (issue 17, item 5).

    python -m bench.cold_start [--rounds 7] [--online-retail] [--before DIR]

Every timing is one fresh process (`python -m segmint.agent ...`), the way a shell runs the
command; the disk cache is warm (a first, untimed round) and so is the exported ONNX model, and
modules run from cached bytecode, as from a pip install (which compiles it): the first round
writes it under bench/out/cold-start/pycache even where PYTHONDONTWRITEBYTECODE is set, which
otherwise has every process compile segmint's modules from source. The
floor is `python -c "import duckdb, numpy, pyarrow"`. Rounds are interleaved (floor, then each
command, again and again), so a change in the machine's load hits every row alike; medians are
reported, wall and CPU (user + system: less sensitive to other jobs on a shared machine).

Workspaces: the sample shop (`segmint synth`, 2,000 customers, seed 0, its users file) and, with
`--online-retail`, the UCI Online Retail file (built once under bench/out/cold-start/).
`--before DIR` also times an older source tree (a folder holding a `segmint` package, e.g. from
`git archive`; `--before-label` says which) in the same rounds. The untimed first round runs with
`-X importtime` and records which commands import pandas (pyarrow loads it, when installed, the
first time a command builds an Arrow array from Python objects). Writes the "Cold start" section
of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.harness import machine, measure, median, segmint, update_section
from bench.ingest import ONLINE_RETAIL, OR_MAP

OUT = Path(__file__).resolve().parent / "out" / "cold-start"
# Every timed process, the floor included, reads and writes bytecode here (see the docstring).
BYTECODE = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(OUT / "pycache")}
FLOOR = [sys.executable, "-c", "import duckdb, numpy, pyarrow"]
TARGET_RATIO = 3.0  # the read commands: within 3x of the floor
MEANING_TARGET_S = 2.0  # a product question matched by meaning


@dataclass(frozen=True)
class Shop:
    """A workspace and the product words its questions use."""

    name: str
    path: Path
    product: str  # a word of its product texts: asked word for word
    meaning: str  # asked "anything like": matched by meaning


def _cold(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system) of one fresh process, and its stderr; `harness.measure`
    reports no CPU time, and on a shared machine CPU time is the steadier of the two."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **BYTECODE, **env})
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.decode(errors='replace')[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, err.decode(errors="replace")


def _sample_shop(users: int) -> Shop:
    shop, ws = OUT / f"sample-{users}.parquet", OUT / f"sample-{users}-ws"
    if not (ws / "segmint.duckdb").exists():
        measure(segmint("synth", "--users", str(users), "--seed", "0", "-o", str(shop)))
        measure(segmint("run", str(shop), "--users", f"{shop}.users.csv", "-w", str(ws),
                        "--currency", "£", "--json"))
    return Shop(f"sample shop ({users:,})", ws, "coffee", "nappies")


def _online_retail() -> Shop | None:
    ws = OUT / "online-retail-ws"
    if not ONLINE_RETAIL.exists():
        return None
    if not (ws / "segmint.duckdb").exists():
        measure(segmint("run", str(ONLINE_RETAIL), "-w", str(ws), *OR_MAP, "--currency", "£",
                        "--json"))
    return Shop("Online Retail", ws, "teapots", "teapots")


def _a_customer(ws: Path) -> str:
    import duckdb

    with contextlib.closing(duckdb.connect(str(ws / "segmint.duckdb"), read_only=True)) as con:
        row = con.execute("SELECT user_id FROM users ORDER BY user_id LIMIT 1").fetchone()
    assert row is not None
    return str(row[0])


def _commands(shop: Shop) -> list[tuple[str, list[str]]]:
    ws = str(shop.path)
    return [
        ("segments", ["segments", "-w", ws]),
        ("user", ["user", _a_customer(shop.path), "-w", ws]),
        ("export (a question's customers)", ["export", "--question", "who are my lapsed high spenders?",
                                             "-o", str(OUT / "export.csv"), "-w", ws]),
        ("ask, no product", ["ask", "top 10 customers by revenue", "-w", ws]),
        ("ask, a product word for word", ["ask", f"who bought {shop.product}?", "-w", ws]),
        ("ask, a product by meaning", ["ask", f"who bought anything like {shop.meaning}?", "-w", ws]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--online-retail", action="store_true")
    parser.add_argument("--before", type=Path, help="a folder holding an older `segmint` package")
    parser.add_argument("--before-label", default="an older source tree",
                        help="what the --before tree is, for the report")
    parser.add_argument("--no-write", action="store_true")
    opts = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    shops = [_sample_shop(opts.users)] + ([s for s in [_online_retail()] if s] if opts.online_retail else [])
    # The source trees timed: this one, and an older one put first on the path.
    trees: dict[str, dict[str, str]] = {"now": {}}
    if opts.before:
        trees["before"] = {"PYTHONPATH": str(opts.before.resolve())}
    # (row label, shop name or "", tree) -> command
    jobs: dict[tuple[str, str, str], list[str]] = {("import duckdb, numpy, pyarrow", "", "now"): FLOOR}
    for tree in trees:
        jobs[("segmint --help", "", tree)] = segmint("--help")
        for shop in shops:
            for label, args in _commands(shop):
                jobs[(label, shop.name, tree)] = segmint(*args)
    load = [os.getloadavg()[0]]
    pandas: list[tuple[str, str, str]] = []  # (label, shop, tree) of the commands importing pandas
    for key, cmd in jobs.items():  # untimed: warms the disk cache (and checks every command runs)
        err = _cold(cmd, {**trees[key[2]], "PYTHONPROFILEIMPORTTIME": "1"})[2]
        if any(line.startswith("import time:") and line.split("|")[-1].strip() == "pandas"
               for line in err.splitlines()):
            pandas.append(key)
    walls: dict[tuple[str, str, str], list[float]] = {k: [] for k in jobs}
    cpus: dict[tuple[str, str, str], list[float]] = {k: [] for k in jobs}
    for r in range(opts.rounds):
        for key, cmd in jobs.items():
            wall, cpu, _ = _cold(cmd, trees[key[2]])
            walls[key].append(wall)
            cpus[key].append(cpu)
        print(f"round {r + 1}/{opts.rounds} done", flush=True)
    load.append(os.getloadavg()[0])
    body = _report(opts, shops, list(trees), walls, cpus, load, pandas)
    print(body)
    if not opts.no_write:
        update_section("Cold start", body)


def _report(opts: argparse.Namespace, shops: list[Shop], trees: list[str],
            walls: dict[tuple[str, str, str], list[float]], cpus: dict[tuple[str, str, str], list[float]],
            load: list[float], pandas: list[tuple[str, str, str]]) -> str:
    floor_key = ("import duckdb, numpy, pyarrow", "", "now")
    floor, floor_cpu = median(walls[floor_key]), median(cpus[floor_key])
    header = "| command | shop |" + "".join(
        f" {t} s | × floor | CPU s |" for t in trees) + " target |"
    lines = [header, "|---|---|" + "---:|---:|---:|" * len(trees) + "---|"]
    lines.append(f"| `python -c \"import duckdb, numpy, pyarrow\"` (floor) | — | {floor:.2f} | 1.0 | "
                 f"{floor_cpu:.2f} |" + " | | |" * (len(trees) - 1) + " |")
    rows = [("segmint --help", "")] + [(label, s.name) for s in shops for label, _ in _commands(s)]
    verdicts = []
    for label, shop in rows:
        cells = ""
        for tree in trees:
            wall, cpu = median(walls[(label, shop, tree)]), median(cpus[(label, shop, tree)])
            cells += f" {wall:.2f} | {wall / floor:.1f} | {cpu:.2f} |"
        now = median(walls[(label, shop, "now")])
        if "by meaning" in label:
            target, met = f"≤ {MEANING_TARGET_S:.0f} s", now <= MEANING_TARGET_S
        else:
            target, met = f"≤ {TARGET_RATIO:.0f}× floor", now <= TARGET_RATIO * floor
        verdicts.append(met)
        lines.append(f"| {label} | {shop or '—'} |{cells} {target}{'' if met else ' (missed)'} |")
    return "\n".join([
        f"`python -m bench.cold_start --rounds {opts.rounds}"
        f"{' --online-retail' if opts.online_retail else ''}{' --before DIR' if opts.before else ''}` "
        f"on {date.today().isoformat()}: {machine()} (load average {load[0]:.1f} at the start, "
        f"{load[1]:.1f} at the end: other jobs shared the machine).",
        "Each timing is one fresh process (`python -m segmint.agent ...`), warm disk cache, cached "
        "bytecode (as a pip install has it), rounds interleaved with the floor; medians of "
        f"{opts.rounds}. Seconds are wall clock; CPU is user + system of the process.",
        "",
        *lines,
        "",
        f"Targets met: **{sum(verdicts)} of {len(verdicts)}**.",
        *([] if not opts.before else ["", f"\"before\" is {opts.before_label}."]),
        *([] if importlib.util.find_spec("pandas") is None else [
            "", "pandas is installed here (a test dependency, not one of segmint's); imported (by "
            "pyarrow, ~0.2 s) by: " + ("; ".join(
                f"{label}{f' on {shop}' if shop else ''} ({tree})" for label, shop, tree in pandas)
                or "no command") + "."]),
    ])


if __name__ == "__main__":
    main()
