"""The README's tour, generated from real runs so it cannot go stale.

    python -m bench.readme_tour --write     # rewrite the tour in README.md
    python -m bench.readme_tour --check     # exit 1 when README.md differs from what the code prints

Runs `segmint demo` (the sample shop) and, when ../shared/datasets has it, `segmint run` over UCI
Online Retail, then the tour's commands on both workspaces, in this process through the real CLI;
and, with Online Retail, the audiences tour: the file cut at 2011-09-01, run, then appended.
Each block is written between `<!-- tour:NAME -->` and `<!-- /tour:NAME -->` in README.md. What
differs from run to run (temporary paths, seconds per stage) is replaced by what a reader types
(`demo-workspace`, `retail`) or left out. tests/docs/test_readme_tour.py regenerates and compares.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb
from typer.testing import CliRunner

from segmint.agent.cli import app
from segmint.agent.describe.offers import segment_goal

README = Path(__file__).resolve().parents[1] / "README.md"
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ONLINE_RETAIL = DATASETS / "online_retail" / "online_retail.csv.gz"
RETAIL_MAP = ["--map", "user_id=CustomerID", "--map", "timestamp=InvoiceDate",
              "--map", "order_id=InvoiceNo", "--map", "product_id=StockCode",
              "--map", "text=Description", "--map", "quantity=Quantity",
              "--map", "price=UnitPrice", "--attr", "country=Country"]
RUN_KEYS = ("users", "events_in", "events_ok", "events_rejected", "segments", "noise_share")
QUESTION = "who are my lapsed high spenders?"
AUDIENCE = "lapsed high spenders"
AUDIENCE_CUT = "2011-09-01"
STAGES = re.compile(r"^\s*(?:\w+ \d+\.\d+s, )+\w+ \d+\.\d+s\s*$")  # seconds per stage vary


def cli(*args: str) -> str:
    """One segmint command's stdout, run in this process (exit code 0 required)."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    if result.exit_code != 0:
        raise RuntimeError(f"segmint {' '.join(args)} exited {result.exit_code}:\n{result.output}")
    return str(result.stdout)


def _shown(command: str, output: str, keep: int | None = None) -> str:
    lines = [line.rstrip() for line in output.splitlines() if not STAGES.match(line)]
    if keep is not None and len(lines) > keep:
        lines = [*lines[:keep], "  ..."]
    return "\n".join([f"$ {command}", *lines])


class Tour:
    """Commands on one workspace, shown as a reader would type them."""

    def __init__(self, workspace: Path, shown_as: str, replace: dict[str, str] | None = None) -> None:
        self.workspace = workspace
        self.shown_as = shown_as
        self.replace = {str(workspace): shown_as, **(replace or {})}
        self.blocks: list[str] = []

    def run(self, words: list[str], typed: str, keep: int | None = None) -> str:
        """Run `segmint WORDS -w WORKSPACE` and add it to the tour as `segmint TYPED -w NAME`."""
        output = cli(*words, "-w", str(self.workspace))
        for real, shown in self.replace.items():
            output = output.replace(real, shown)
        self.blocks.append(_shown(f"segmint {typed} -w {self.shown_as}", output, keep))
        return output

    def text(self) -> str:
        """The tour block."""
        return "```text\n" + "\n\n".join(self.blocks) + "\n```"


def _segments(workspace: Path) -> list[dict[str, Any]]:
    doc: dict[str, Any] = json.loads(cli("segments", "-w", str(workspace), "--json"))
    return [s for s in doc["segments"] if s["id"] != "0" and s["size"]]


def _pick(segments: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The segment whose name is best supported (recommend by name) and one with a goal beyond
    growth, else the largest (brief by id)."""
    by_support = max(segments, key=lambda s: ((s.get("name_support") or {}).get("support")
                                             or 0.0, -int(s["id"])))
    goals = [s for s in segments if segment_goal(s["facts"].get("term_shares") or {}).term]
    return by_support, (goals or segments)[0]


def demo_tour(root: Path) -> str:
    """`segmint demo` and a few commands on the sample shop it builds."""
    ws = root / "demo-workspace"
    tour = Tour(ws, "demo-workspace")
    output = cli("demo", "-w", str(ws))
    for real, shown in tour.replace.items():
        output = output.replace(real, shown)
    tour.blocks.append(_shown("segmint demo", output))
    labels = "demo-workspace/sample-shop.parquet.labels.csv"
    tour.run(["evaluate", "--labels", str(ws / "sample-shop.parquet.labels.csv"),
              "--ignore-label", "mixed"], f"evaluate --labels {labels} --ignore-label mixed")
    named, goal = _pick(_segments(ws))
    tour.run(["recommend", "--segment", named["name"], "--limit", "5"],
             f'recommend --segment "{named["name"]}" --limit 5')
    tour.run(["brief", "--segment", goal["id"]], f"brief --segment {goal['id']}")
    return tour.text()


def retail_tour(ws: Path, summary: dict[str, Any], data: Path) -> str:
    """Online Retail: the run, its segments, a recommendation, a brief, one customer, an audit."""
    tour = Tour(ws, "retail", {str(data): "online_retail.csv.gz"})
    shown = {k: summary[k] for k in RUN_KEYS if k in summary}
    command = ("segmint run online_retail.csv.gz -w retail --currency £ " + " ".join(
        f"{RETAIL_MAP[i]} {RETAIL_MAP[i + 1]}" for i in range(0, len(RETAIL_MAP), 2)) + " --json")
    tour.blocks.append(f"$ {command}\n" + json.dumps(shown, indent=2)[:-1] + "  ...\n}")
    tour.run(["segments"], "segments", keep=12)
    named, goal = _pick(_segments(ws))
    tour.run(["recommend", "--segment", named["name"], "--limit", "5"],
             f'recommend --segment "{named["name"]}" --limit 5')
    tour.run(["brief", "--segment", goal["id"]], f"brief --segment {goal['id']}")
    tour.run(["user", "17850"], "user 17850", keep=1)
    tour.run(["recommend", "--user", "17850", "--limit", "5"], "recommend --user 17850 --limit 5")
    tour.run(["audit", "--attribute", "country"], "audit --attribute country", keep=9)
    tour.run(["ask", QUESTION], f'ask "{QUESTION}"', keep=4)
    return tour.text()


def audiences_tour(root: Path, data: Path) -> str:
    """Online Retail cut at 2011-09-01: a first run, a saved audience, the rest appended, and what
    changed (docs/definitions.md "Audiences")."""
    first, later = root / "retail-to-aug.csv", root / "retail-from-sep.csv"
    with duckdb.connect() as con:
        for path, test in ((first, "<"), (later, ">=")):
            con.execute(f"COPY (SELECT * FROM read_csv('{data}', all_varchar = true) "
                        f"WHERE InvoiceDate {test} '{AUDIENCE_CUT}') TO '{path}' (HEADER)")
    ws = root / "retail-2011"
    tour = Tour(ws, "retail-2011", {str(first): first.name, str(later): later.name})
    mapping = " ".join(f"{RETAIL_MAP[i]} {RETAIL_MAP[i + 1]}" for i in range(0, len(RETAIL_MAP), 2))
    tour.blocks.append(f'$ MAP="{mapping}"')
    tour.run(["run", str(first), "--currency", "£", *RETAIL_MAP],
             f"run {first.name} --currency £ $MAP", keep=1)
    tour.run(["audience", "save", AUDIENCE, "--question", AUDIENCE],
             f'audience save "{AUDIENCE}" --question "{AUDIENCE}"')
    tour.run(["run", str(later), "--append", "--currency", "£", *RETAIL_MAP],
             f"run {later.name} --append --currency £ $MAP", keep=1)
    tour.run(["audience", "diff", AUDIENCE], f'audience diff "{AUDIENCE}"', keep=4)
    tour.run(["audience", "show", AUDIENCE], f'audience show "{AUDIENCE}"')
    tour.run(["history"], "history", keep=4)
    # Run ids hold the moment they ran: named by their place, the tour reads the same every time.
    shown = json.loads(cli("audience", "show", AUDIENCE, "-w", str(ws), "--json"))
    text = tour.text()
    for ordinal, row in zip(("first", "second"), shown["history"], strict=True):
        text = text.replace(f"run {row['run_id']}", f"the {ordinal} run")
    return text


def build_retail(root: Path) -> tuple[Path, dict[str, Any]] | None:
    """The README's Online Retail run (None when the dataset is absent)."""
    if not ONLINE_RETAIL.exists():
        return None
    ws = root / "retail"
    doc = json.loads(cli("run", str(ONLINE_RETAIL), "-w", str(ws), "--currency", "£", *RETAIL_MAP,
                         "--json"))
    return ws, doc


def replace_block(text: str, name: str, block: str) -> str:
    """README text with the `tour:NAME` block replaced.

    Raises:
        ValueError: the README has no such block.
    """
    pattern = re.compile(rf"(<!-- tour:{name} -->\n).*?(<!-- /tour:{name} -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"README.md has no <!-- tour:{name} --> block")
    return pattern.sub(lambda m: m.group(1) + block + "\n" + m.group(2), text)


def render(root: Path, retail: tuple[Path, dict[str, Any]] | None, readme: str) -> str:
    """README text with every tour regenerated (the Online Retail ones only when its run is
    given)."""
    text = replace_block(readme, "demo", demo_tour(root))
    if retail is not None:
        text = replace_block(text, "retail", retail_tour(retail[0], retail[1], ONLINE_RETAIL))
        text = replace_block(text, "audiences", audiences_tour(root, ONLINE_RETAIL))
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="rewrite the tour in README.md")
    group.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    opts = parser.parse_args()
    current = README.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        fresh = render(Path(tmp), build_retail(Path(tmp)), current)
    if opts.write:
        README.write_text(fresh, encoding="utf-8")
    elif fresh != current:
        print("README.md's tour is stale: python -m bench.readme_tour --write", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
