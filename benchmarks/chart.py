"""Draw ``results/latest.png`` from ``results/latest.json`` (run in the peers venv: matplotlib).

    python chart.py results/latest.json results/latest.png

One panel per metric, one bar per client: the ratio to raw httpx (log scale; paired where
run.py measured it so), ours highlighted, failed measurements marked instead of drawn.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

PANELS = [
    ("call_s", "CPU per non-stream call"),
    ("chunk_s", "CPU per streamed chunk"),
    ("tool_s", "CPU per tool call"),
    ("async_wall_s", "Concurrent async streams (wall)"),
    ("import_s", "Import time"),
    ("peak_rss_mb", "Peak RSS"),
]
COLORS = {"ours": "#e8590c", "floor": "#495057", "framework-floor": "#adb5bd", "peer": "#4c6ef5"}


def main(src: str, dst: str) -> None:
    with open(src) as fh:
        data: dict[str, Any] = json.load(fh)
    clients = data["clients"]
    names = list(clients)
    labels = [clients[n]["label"] for n in names]
    fig, axes = plt.subplots(2, 3, figsize=(18, 10), sharey=True)
    for ax, (key, title) in zip(axes.flat, PANELS, strict=True):
        values, colors, notes = [], [], []
        for n in names:
            entry = clients[n]
            ratio = entry.get("paired_ratios", {}).get(key) or entry.get("ratios", {}).get(key)
            failed = entry.get("status") or key in entry.get("failed", [])
            values.append(ratio if (ratio and not failed) else 0.0)
            colors.append(COLORS.get(entry.get("kind", "peer"), "#4c6ef5"))
            notes.append("n/a" if entry.get("status") else ("fails" if failed else ""))
        y = range(len(names))
        ax.barh(list(y), values, color=colors)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}x"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_title(title + " (x raw httpx)")
        finite = [v for v in values if v > 0] or [1.0]
        ax.set_xlim(min(0.5, min(finite) * 0.8), max(finite) * 2.5)
        for i, (v, note) in enumerate(zip(values, notes, strict=True)):
            text = note if note else f"{v:.2f}x"
            ax.text(v * 1.08 if v > 0 else 0.55, i, text, va="center", fontsize=8)
    axes[0][0].set_yticks(range(len(names)))
    axes[0][0].set_yticklabels(labels, fontsize=9)
    axes[1][0].set_yticklabels(labels, fontsize=9)
    axes[0][0].invert_yaxis()
    info = data["info"]
    fig.suptitle(
        f"hfproviders vs peers on a loopback mock: client CPU, ratios to raw httpx "
        f"(lower is better)\n{info['date']}; {info['machine']}",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(dst, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
