"""The words the pages use for the engine's figures, declared once: each metric's label, unit,
direction and meaning; the predictors (the model and its baselines); the two modes of a race
prediction. The engine names metrics and modes (`f1core.engine.backtest`, `f1core.engine.training`);
this module says them in plain words."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from f1core.engine.backtest import RACE_METRICS, STAGE1_METRICS
from f1core.engine.training import POST, PRE

TOO_SMALL = "sample too small for an interval"
# how every interval of the reports is made (`engine.backtest.mean_interval`), in a caption's words
INTERVAL_KIND = ("90% interval (Wilson's for a share such as winner picked, which keeps a width when every "
                 "race went the same way; a bootstrap otherwise)")
TOO_FEW = "too few races to tell"
# A bootstrap over four races has 35 distinct resamples, over three 10: its 90% interval can leave
# out zero by the luck of one race, so no comparison of fewer races is called either way.
MIN_RACES_TO_TELL = 5


# why a finishing range can reach far back for a driver the model rates highly
RETIREMENT_TAIL = ("A retirement counts as a finish at the back, so a driver with a 1-in-10 chance of retiring or "
                   "more has a bar reaching far down the order.")
# the marks of a race result without a finishing position (`insights.result_label`)
RESULT_MARKS = "DNF = retired, DNS = did not start, DSQ = disqualified, NC = not classified"

# A difference of two percentages (45% -> 52% is +7 pp): "pts" read as championship points.
PERCENTAGE_POINTS = "pp"


def percentage_points(diff: float, decimals: int = 0) -> str:
    """A difference of two shares (0..1) in percentage points, signed with an ASCII minus (a
    metric card reads the sign to choose its arrow): '+7 pp'."""
    return f"{diff * 100:+.{decimals}f} {PERCENTAGE_POINTS}"


# a metric's direction, beside its label in tables
DIRECTION = {"higher": "↑", "lower": "↓"}
DIRECTION_HELP = "↑ higher is better, ↓ lower is better"


def no_width(lo: float | None, hi: float | None) -> bool:
    """An interval that says nothing: missing, or of no width (one race, or every race alike)."""
    return lo is None or hi is None or pd.isna(lo) or pd.isna(hi) or abs(hi - lo) < 1e-12


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    kind: str  # 'share' (0..1, shown in %), 'number', 'places', 'seconds'
    higher_is_better: bool
    meaning: str  # what the mean over many races means
    per_race: str = ""  # what the figure of a single race means

    @property
    def better(self) -> str:
        """'higher' or 'lower': which way this metric is better."""
        return "higher" if self.higher_is_better else "lower"

    @property
    def label_with_direction(self) -> str:
        """'Winner log loss ↓'"""
        return f"{self.label} {DIRECTION[self.better]}"

    def format(self, value: float | None) -> str:
        if value is None or pd.isna(value):
            return "—"
        if self.kind == "share":
            return f"{value * 100:.0f}%"
        if self.kind == "places":
            return f"{value:.2f}"
        if self.kind == "seconds":
            return f"{value:.2f} s"
        return f"{value:.3f}"

    def with_interval(self, value: float | None, lo: float | None, hi: float | None) -> str:
        """'64% (55%–71%)'; an interval with no width (one race, or every race alike) is no
        certainty but too small a sample, and says so."""
        if value is None or pd.isna(value):
            return "—"
        return f"{self.format(value)} ({self.bounds(lo, hi)})"

    def bounds(self, lo: float | None, hi: float | None) -> str:
        """'55%–71%', or the sample too small when the interval has no width."""
        return TOO_SMALL if no_width(lo, hi) else f"{self.format(lo)}–{self.format(hi)}"

    def interval(self, lo: float | None, hi: float | None) -> str:
        """'90% interval: 55% to 71%', or the sample too small when the interval has no width."""
        return TOO_SMALL if no_width(lo, hi) else f"90% interval: {self.format(lo)} to {self.format(hi)}"

    def difference_with_interval(self, value: float, lo: float | None, hi: float | None) -> str:
        """'+8 pp (+2 pp to +14 pp)', or the sample too small when the interval has no width."""
        if no_width(lo, hi):
            return f"{self.format_difference(value)} ({TOO_SMALL})"
        return f"{self.format_difference(value)} ({self.format_difference(lo)} to {self.format_difference(hi)})"

    def format_difference(self, value: float) -> str:
        """A difference of this metric, with its unit ('+8 pp', '−0.120')."""
        if pd.isna(value):
            return "—"
        sign = "+" if value > 0 else "−" if value < 0 else "±"
        size = abs(value)
        if self.kind == "share":
            return f"{sign}{size * 100:.0f} {PERCENTAGE_POINTS}"
        if self.kind == "seconds":
            return f"{sign}{size:.2f} s"
        return f"{sign}{size:.2f}" if self.kind == "places" else f"{sign}{size:.3f}"


METRICS: dict[str, MetricInfo] = {m.name: m for m in [
    MetricInfo("winner_top1", "Winner picked", "share", True,
               "share of races where the driver given the highest win probability won",
               per_race="1 when the driver with the highest win chance won, else 0."),
    MetricInfo("winner_top3", "Winner in top 3 picks", "share", True,
               "share of races where the winner was among the three drivers given the highest win probability",
               per_race="1 when the winner was one of the three drivers with the highest win chances."),
    MetricInfo("winner_logloss", "Winner log loss", "number", False,
               "minus the log of the probability given to the driver who won: 0.69 means he was given 50%, "
               "1.61 means 20%, 2.30 means 10%; confident wrong picks cost the most",
               per_race="−ln(chance given to the actual winner): 0.69 for 50%, 2.3 for 10%. Lower is better."),
    MetricInfo("multiclass_brier", "Win Brier score", "number", False,
               "squared error of every driver's win probability against what happened (1 for the winner, "
               "0 for the rest), summed over the field: 0 is perfect, about 1 is a confident miss",
               per_race="Squared error of the win chances over the whole field. Lower is better."),
    MetricInfo("podium_brier", "Podium Brier score", "number", False,
               "squared error of each driver's podium probability against whether he made the podium, "
               "averaged over the field",
               per_race="Mean squared error of the podium chances per driver. Lower is better."),
    MetricInfo("spearman", "Finishing-order Spearman", "number", True,
               "rank correlation between the predicted order (expected positions) and the real finishing "
               "order: 1 is the exact order, 0 no relation",
               per_race="Rank correlation of expected and actual finishing order, from −1 to 1. Higher is better."),
    MetricInfo("position_mae", "Position error (places)", "places", False,
               "average number of places between a driver's expected and real finishing position",
               per_race="Mean distance between expected and actual finishing position, in places. Lower is better."),
    MetricInfo("grid_spearman", "Grid Spearman", "number", True,
               "rank correlation between the predicted qualifying order and the real one"),
    MetricInfo("pole_hit", "Pole picked", "share", True,
               "share of qualifying sessions where the predicted fastest driver took pole"),
    MetricInfo("laptime_median_abs_error_s", "Lap-time error", "seconds", False,
               "median distance between a driver's predicted and real best qualifying lap, in seconds"),
]}
# The championship checkpoints (f1core.engine.season_backtest)
METRICS.update({m.name: m for m in [
    MetricInfo("favourite_won", "Title favourite became champion", "share", True,
               "share of checkpoints where the driver given the highest title chance won the title"),
    MetricInfo("champion_logloss", "Champion's log loss", "number", False,
               "minus the log of the title chance given to the eventual champion: 0.11 means 90%, 0.69 means 50%"),
    MetricInfo("title_brier", "Title Brier score", "number", False,
               "squared error of every driver's title chance against what happened, summed over the field"),
    MetricInfo("champion_brier", "Brier of the champion's chance", "number", False,
               "(1 − the title chance given to the eventual champion)², averaged over checkpoints"),
    MetricInfo("band_coverage", "Final points inside P10–P90", "share", True,
               "share of drivers whose final points fell inside the projection's P10–P90 band: about 80% "
               "means honest bands, far less means over-confident, far more means too wide"),
]})
assert set(RACE_METRICS) | set(STAGE1_METRICS) <= set(METRICS)

PREDICTOR_ORDER = ["model", "grid", "form"]
PREDICTOR_LABEL = {"model": "Model", "grid": "Grid baseline", "form": "Form baseline",
                   "last race": "Last-race baseline"}
PREDICTOR_NOTE = {
    "model": "the prediction model",
    "grid": "grid slot: each car's chances are how often its starting slot won, reached the podium and so on "
            "in earlier races (after qualifying only)",
    "form": "recent form: the same table of earlier races, read by the drivers' rank in recent points per race",
    "last race": "every driver qualifies with the same gap to pole as at his previous race",
}
# ... in a chart's caption, for any of its chances (win, podium)
BASELINE_SHORT = {
    "grid": "the grid baseline (how often each grid slot has done it in earlier races)",
    "form": "the recent-form baseline (how often the driver ranked there on recent form has done it)",
}


def ordered_predictors(names) -> list[str]:
    names = list(dict.fromkeys(names))
    return [p for p in PREDICTOR_ORDER if p in names] + sorted(p for p in names if p not in PREDICTOR_ORDER)


MODES = (POST, PRE)
MODE_LABEL = {POST: "After qualifying", PRE: "Before qualifying"}
MODE_NOTE = {
    PRE: "Before qualifying: the grid is the qualifying model's prediction.",
    POST: "After qualifying: the real grid is used.",
}
# A race still to run, after qualifying: the sources give the qualifying order, not the starting grid
QUALIFYING_ORDER = ("The grid is the qualifying order. Grid penalties and pit-lane starts announced after it are "
                    "not applied; set them on the What-if page.")
QUALIFYING_ORDER_NOTE = "After qualifying: " + QUALIFYING_ORDER[0].lower() + QUALIFYING_ORDER[1:]
MODE_WORDS = {POST: "after qualifying (with the real grid)", PRE: "before qualifying (with a predicted grid)"}
