"""The `bench --png` chart: one small panel per metric, every target on every panel.

Six horizontal bar panels (TTFT p50, latency p50, latency p95, tokens/s, error rate, cost per
run) share the target labels on their y axis and print each value at the end of its bar, so the
chart needs no legend and no colour key. matplotlib is the optional `plot` extra.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["PANELS", "PLOT_INSTALL", "plotting_available", "write_png"]

PLOT_INSTALL = 'pip install "hfproviders[plot]"'
"""The command that installs what `--png` needs."""


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


PANELS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("ttft_p50_s", "time to first token, p50", _seconds),
    ("latency_p50_s", "latency p50", _seconds),
    ("latency_p95_s", "latency p95", _seconds),
    ("tokens_per_s", "tokens per second", lambda v: f"{v:,.0f}"),
    ("error_rate", "error rate", lambda v: f"{100 * v:.0f} %"),
    ("cost_per_run_usd", "cost per run (USD)", lambda v: f"${v:.6f}"),
)
"""(summary key, panel title, value label) for each panel, in order."""


def plotting_available() -> bool:
    """Whether matplotlib can be imported (without importing it)."""
    return importlib.util.find_spec("matplotlib") is not None


def write_png(path: str, summaries: Sequence[Mapping[str, Any]], title: str) -> None:
    """Write the chart to `path` (PNG). Needs matplotlib (`PLOT_INSTALL`)."""
    matplotlib: Any = importlib.import_module("matplotlib")
    matplotlib.use("Agg")  # no display needed
    plt: Any = importlib.import_module("matplotlib.pyplot")
    labels = [str(s["target"]) for s in summaries]
    rows = max(1, len(labels))
    fig, axes = plt.subplots(2, 3, figsize=(13.0, 2.2 + 0.9 * rows), sharey=True)
    positions = list(range(rows))
    for ax, (key, name, fmt) in zip(axes.flat, PANELS, strict=True):
        values = [s.get(key) for s in summaries]
        shown = [float(v) if isinstance(v, int | float) else 0.0 for v in values]
        ax.barh(positions, shown, height=0.6, color="#4C72B0")
        top = max(shown, default=0.0) or 1.0
        for y, raw, value in zip(positions, values, shown, strict=True):
            text = "n/a" if raw is None else fmt(value)
            ax.text(value + top * 0.02, y, text, va="center", fontsize=9)
        ax.set_xlim(0, top * 1.4)  # room for the value labels
        ax.set_xticks([])  # every bar is labelled with its value
        ax.set_title(name, fontsize=10)
        ax.set_yticks(positions, labels)
        ax.spines[["top", "right", "bottom"]].set_visible(False)
    axes.flat[0].invert_yaxis()  # shared by every panel: the first target on top
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
