"""What-if scenarios: overrides of weather and grid applied to a race's feature rows."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd


class ScenarioError(ValueError):
    """A scenario names an unknown driver or an impossible value."""


@dataclass(frozen=True)
class Scenario:
    rain: float | None = None  # share of the race in rain, 0 (dry) to 1 (wet)
    air_temp: float | None = None  # °C
    track_temp: float | None = None  # °C
    grid_slots: tuple[tuple[str, int], ...] = field(default_factory=tuple)  # (driver_ref, slot): move one driver
    grid_order: tuple[str, ...] | None = None  # a whole grid, pole first

    @property
    def is_baseline(self) -> bool:
        return self == Scenario()

    def with_slot(self, driver_ref: str, slot: int) -> "Scenario":
        slots = tuple((d, s) for d, s in self.grid_slots if d != driver_ref) + ((driver_ref, int(slot)),)
        return Scenario(self.rain, self.air_temp, self.track_temp, slots, self.grid_order)

    def to_query(self) -> dict[str, str]:
        """A compact form for URLs (see `from_query`)."""
        out: dict[str, str] = {}
        for key in ("rain", "air_temp", "track_temp"):
            value = getattr(self, key)
            if value is not None:
                out[key] = f"{value:g}"
        if self.grid_slots:
            out["slots"] = ",".join(f"{d}:{s}" for d, s in self.grid_slots)
        if self.grid_order:
            out["grid"] = ",".join(self.grid_order)
        return out

    @classmethod
    def from_query(cls, params: dict[str, str]) -> "Scenario":
        def number(key: str, lo: float, hi: float) -> float | None:
            raw = params.get(key)
            if raw in (None, ""):
                return None
            try:
                value = float(raw)
            except ValueError as exc:
                raise ScenarioError(f"{key}={raw!r} is not a number") from exc
            if not lo <= value <= hi or math.isnan(value):
                raise ScenarioError(f"{key}={raw} is outside {lo:g} to {hi:g}")
            return value

        slots: list[tuple[str, int]] = []
        for part in filter(None, (params.get("slots") or "").split(",")):
            driver, _, slot = part.partition(":")
            if not slot.isdigit():
                raise ScenarioError(f"grid slot {part!r} is not like driver:slot")
            slots.append((driver, int(slot)))
        order = tuple(filter(None, (params.get("grid") or "").split(","))) or None
        return cls(number("rain", 0, 1), number("air_temp", -10, 60), number("track_temp", -10, 80),
                   tuple(slots), order)


def apply_scenario(rows: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Rows of one race with the scenario's overrides. A moved driver takes his slot and the
    cars between his old and new slot shift by one, as on a real grid."""
    out = rows.copy()
    if scenario.rain is not None:
        if not 0 <= scenario.rain <= 1:
            raise ScenarioError(f"rain must be between 0 (dry) and 1 (wet), not {scenario.rain}")
        out["rain"] = float(scenario.rain)
    if scenario.air_temp is not None:
        out["air_temp"] = float(scenario.air_temp)
    if scenario.track_temp is not None:
        out["track_temp"] = float(scenario.track_temp)
    field_drivers = list(out["driver_ref"])
    if scenario.grid_order:
        unknown = [d for d in scenario.grid_order if d not in field_drivers]
        if unknown:
            raise ScenarioError(f"not in this race's field: {', '.join(unknown)}")
        if len(set(scenario.grid_order)) != len(scenario.grid_order):
            raise ScenarioError("a driver appears twice in the grid")
        rest = [d for d in _grid_order(out) if d not in scenario.grid_order]
        order = list(scenario.grid_order) + rest
        out["grid"] = out["driver_ref"].map({d: i + 1 for i, d in enumerate(order)}).astype(float)
        out["pit_lane_start"] = 0.0
    for driver, slot in scenario.grid_slots:
        if driver not in field_drivers:
            raise ScenarioError(f"{driver} is not in this race's field")
        if not 1 <= slot <= len(field_drivers):
            raise ScenarioError(f"grid slot {slot} for {driver} is outside 1 to {len(field_drivers)}")
        order = [d for d in _grid_order(out) if d != driver]
        order.insert(slot - 1, driver)
        out["grid"] = out["driver_ref"].map({d: i + 1 for i, d in enumerate(order)}).astype(float)
        out.loc[out["driver_ref"] == driver, "pit_lane_start"] = 0.0
    return out


def _grid_order(rows: pd.DataFrame) -> list[str]:
    return list(rows.sort_values(["grid", "driver_ref"], na_position="last", kind="mergesort")["driver_ref"])
