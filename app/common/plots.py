"""Plot helpers: history rows -> long-format pandas DataFrames (step, value, series) for gr.LinePlot."""

from __future__ import annotations

import pandas as pd

from gan_core.metrics import modes as mode_metrics
from gan_core.viz.curves import curve_table

COLUMNS = ("step", "value", "series")
LOSS_SERIES = {"d_loss": "D loss", "g_loss": "G loss"}
LOSS_COLORS = {"D loss": "#1b7837", "G loss": "#762a83"}
COVERAGE_SERIES = {mode_metrics.MODES: "modes covered %", mode_metrics.HQ: "high quality %"}
DIVERGENCE_SERIES = {mode_metrics.KL_GRID: "KL (grid)", mode_metrics.JS_GRID: "JS (grid)"}
COVERAGE_COLORS = {"modes covered %": "#e66101", "high quality %": "#5e3c99",
                   "KL (grid)": "#e66101", "JS (grid)": "#5e3c99"}


def placeholders(series) -> pd.DataFrame:
    """One empty (NaN) point per series name.

    Gradio's line plot fixes its colour scale to the series present when the chart is (re)built, which
    may happen while a curve has no data yet; a series missing then is drawn without a colour. Every frame
    therefore carries an empty point for each series the plot can show (empty points are not drawn)."""
    names = list(series)
    return pd.DataFrame({"step": [0] * len(names), "value": [float("nan")] * len(names), "series": names})


def frame(rows: list[dict], names: dict[str, str], every: tuple[str, ...],
          scale: dict[str, float] | None = None) -> pd.DataFrame:
    """A long-format frame of the keys in `names` (renamed to their labels), each optionally scaled,
    plus empty points for all the plot's series `every`."""
    table = curve_table(rows, tuple(names))
    df = pd.DataFrame(table, columns=list(COLUMNS))
    if scale:
        df["value"] = df["value"] * df["series"].map(lambda k: scale.get(k, 1.0))
    df["series"] = df["series"].map(names)
    df = pd.concat([placeholders(every), df], ignore_index=True) if len(df) else placeholders(every)
    return df.astype({"step": "int64", "value": "float64", "series": "str"})


LOSS_ALL = tuple(LOSS_SERIES.values())
COVERAGE_ALL = (*COVERAGE_SERIES.values(), *DIVERGENCE_SERIES.values())


def empty_loss_frame() -> pd.DataFrame:
    return placeholders(LOSS_ALL)


def empty_coverage_frame() -> pd.DataFrame:
    return placeholders(COVERAGE_ALL)


def loss_frame(rows: list[dict]) -> pd.DataFrame:
    """D and G losses over steps."""
    return frame(rows, LOSS_SERIES, LOSS_ALL)


LOSS_LABEL = "Losses: D (green), G (purple)"


def coverage_label(n_modes: int | None) -> str:
    """The coverage plot's title, naming its colours, for data with `n_modes` modes (None: no modes)."""
    if n_modes:
        return "Modes % (orange), quality % (purple)"
    return "KL (orange), JS (purple)"


def coverage_frame(rows: list[dict], n_modes: int | None) -> pd.DataFrame:
    """Mode coverage and high-quality share (both in %) for mixtures; grid KL/JS for other shapes."""
    if n_modes:
        scale = {mode_metrics.MODES: 100.0 / n_modes, mode_metrics.HQ: 100.0}
        return frame(rows, COVERAGE_SERIES, COVERAGE_ALL, scale)
    return frame(rows, DIVERGENCE_SERIES, COVERAGE_ALL)

