"""What-if scenarios: overrides of weather and grid applied to a race's feature rows.

Every way into a scenario (the What-if page and its links, the command line and its grid files)
goes through the checks here, so a value refused in one place is refused everywhere, with the
same words. A `Scenario` checks its own values when it is made; `fitted_to` and `apply_scenario`
check it against a race's field.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


class ScenarioError(ValueError):
    """A scenario names an unknown driver or an impossible value."""


@dataclass(frozen=True)
class Condition:
    name: str
    words: str
    lo: float
    hi: float
    unit: str


# The weather a what-if can set, with the range a race could plausibly have.
CONDITIONS = {c.name: c for c in [
    Condition("rain", "share of the race in rain, 0 (dry) to 1 (wet)", 0.0, 1.0, ""),
    Condition("air_temp", "air temperature", -10.0, 50.0, " °C"),
    Condition("track_temp", "track temperature", -5.0, 75.0, " °C"),
]}
MAX_FIELD = 34  # more cars than any Grand Prix has started: a larger slot is a typing error


def parse_number(name: str, raw) -> float:
    """A weather value from text or a number, refused when it is not a finite number inside the
    condition's range."""
    c = CONDITIONS[name]
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ScenarioError(f"{name}={raw!r} is not a number ({c.words})") from None
    if math.isnan(value) or not c.lo <= value <= c.hi:
        raise ScenarioError(f"{name}={raw} is outside {c.lo:g} to {c.hi:g}{c.unit} ({c.words})")
    return value


def parse_slot(raw, where: str = "grid slot") -> int:
    """A starting slot from text or a number: a whole number from 1 to MAX_FIELD."""
    text = str(raw).strip()
    if len(text) > 3 or not text.isdigit():  # also keeps 5,000-digit numbers away from int()
        try:
            value = float(text)
        except ValueError:
            raise ScenarioError(f"{where} {text[:12]!r}{'…' if len(text) > 12 else ''} is not a whole number") from None
        if abs(value) > 999:
            raise ScenarioError(f"{where} {text[:12]}{'…' if len(text) > 12 else ''} is outside 1 to {MAX_FIELD}")
        if not value.is_integer():
            raise ScenarioError(f"{where} {text!r} is not a whole number")
        text = str(int(value))
    slot = int(text)
    if not 1 <= slot <= MAX_FIELD:
        raise ScenarioError(f"{where} {slot} is outside 1 to {MAX_FIELD}")
    return slot


def closest(name: str, choices, n: int = 3) -> str:
    """' (closest: a, b)' or '' — for an unknown driverRef."""
    near = difflib.get_close_matches(str(name), list(choices), n=n, cutoff=0.7)
    return f" (closest: {', '.join(near)})" if near else ""


@dataclass(frozen=True)
class Scenario:
    rain: float | None = None  # share of the race in rain, 0 (dry) to 1 (wet)
    air_temp: float | None = None  # °C
    track_temp: float | None = None  # °C
    # (driver_ref, slot): each listed driver starts exactly there; the others keep their order
    grid_slots: tuple[tuple[str, int], ...] = field(default_factory=tuple)
    grid_order: tuple[str, ...] | None = None  # a whole grid (or its head), pole first

    def __post_init__(self):
        for name in CONDITIONS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse_number(name, value))
        slots = tuple((str(d), parse_slot(s, f"grid slot for {d}")) for d, s in self.grid_slots)
        object.__setattr__(self, "grid_slots", slots)
        drivers = [d for d, _ in slots]
        twice = sorted({d for d in drivers if drivers.count(d) > 1})
        if twice:
            raise ScenarioError(f"{', '.join(twice)} given two grid slots")
        taken = [s for _, s in slots]
        shared = sorted({s for s in taken if taken.count(s) > 1})
        if shared:
            raise ScenarioError(f"two drivers given grid slot {', '.join(f'P{s}' for s in shared)}")
        if self.grid_order is not None:
            order = tuple(str(d) for d in self.grid_order)
            if len(set(order)) != len(order):
                raise ScenarioError("a driver appears twice in the grid order")
            object.__setattr__(self, "grid_order", order or None)

    @property
    def is_baseline(self) -> bool:
        return self == Scenario()

    def with_slot(self, driver_ref: str, slot: int) -> "Scenario":
        """The scenario with `driver_ref` starting from `slot`; a driver moved there before
        goes back among the others."""
        slot = parse_slot(slot)
        slots = tuple((d, s) for d, s in self.grid_slots if d != driver_ref and s != slot) + ((driver_ref, slot),)
        return Scenario(self.rain, self.air_temp, self.track_temp, slots, self.grid_order)

    def fitted_to(self, field_drivers, label: str = "this race") -> tuple["Scenario", list[str]]:
        """This scenario without the grid changes a race's field cannot take, and what was left
        out in plain words (a link made for another race, a driver who is not entered)."""
        field_drivers = list(field_drivers)
        n = len(field_drivers)
        problems, slots = [], []
        for driver, slot in self.grid_slots:
            if driver not in field_drivers:
                problems.append(f"“{driver}” is not in the field of {label}{closest(driver, field_drivers)}, "
                                f"so the move to P{slot} was left out")
            elif slot > n:
                problems.append(f"P{slot} for {driver} is outside 1 to {n} (the field of {label}), "
                                "so that move was left out")
            else:
                slots.append((driver, slot))
        order = self.grid_order
        unknown = [d for d in order or () if d not in field_drivers]
        if unknown:
            problems.append(f"the grid order was left out ({', '.join(f'“{d}”' for d in unknown)} not in the "
                            f"field of {label})")
            order = None
        return Scenario(self.rain, self.air_temp, self.track_temp, tuple(slots), order), problems

    def check_field(self, field_drivers, label: str = "this race") -> None:
        """Raise a ScenarioError naming every grid change the field cannot take."""
        problems = self.fitted_to(field_drivers, label)[1]
        if problems:
            raise ScenarioError("; ".join(problems))

    def to_query(self) -> dict[str, str]:
        """A compact form for URLs (see `from_query`)."""
        out: dict[str, str] = {}
        for key in CONDITIONS:
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
        numbers = {k: params[k] for k in CONDITIONS if params.get(k) not in (None, "")}
        slots = []
        for part in filter(None, (params.get("slots") or "").split(",")):
            driver, sep, slot = part.partition(":")
            if not sep or not driver:
                raise ScenarioError(f"grid move {part[:40]!r} is not like driver:slot")
            slots.append((driver, slot))
        order = tuple(filter(None, (params.get("grid") or "").split(","))) or None
        return cls(**numbers, grid_slots=tuple(slots), grid_order=order)

    @classmethod
    def from_link(cls, params: dict[str, str]) -> tuple["Scenario", list[str]]:
        """`from_query` for a link someone may have typed or cut short: each weather value and
        each grid move on its own, so that a bad part is named and left out while the rest stand.
        Returns the scenario and the problems, in plain words."""
        problems: list[str] = []

        def part(query: dict[str, str]) -> "Scenario":
            try:
                return cls.from_query(query)
            except ScenarioError as exc:
                problems.append(str(exc))
                return cls()

        numbers = {k: getattr(part({k: params[k]}), k) for k in CONDITIONS if params.get(k) not in (None, "")}
        moves = tuple(m for p in filter(None, (params.get("slots") or "").split(","))
                      for m in part({"slots": p}).grid_slots)
        order = part({"grid": params.get("grid") or ""}).grid_order
        try:
            return cls(**numbers, grid_slots=moves, grid_order=order), problems
        except ScenarioError as exc:  # a driver or a slot given twice: which move was meant is unclear
            return cls(**numbers, grid_order=order), problems + [str(exc)]


def grid_from_slots(slots: dict[str, float | None], codes: dict[str, str] | None = None) -> tuple[str, ...]:
    """A whole grid order (pole first) from every driver's typed slot. The slots must be 1..n,
    each used once; otherwise a ScenarioError says, in plain words with driver codes, what is wrong."""
    codes = codes or {}
    name = lambda d: codes.get(d, d)  # noqa: E731
    n = len(slots)
    problems = []
    empty = [name(d) for d, s in slots.items() if s is None or pd.isna(s)]
    if empty:
        problems.append(f"{', '.join(empty)} {'has' if len(empty) == 1 else 'have'} no slot")
    given = {d: s for d, s in slots.items() if s is not None and not pd.isna(s)}
    not_whole = [f"{name(d)} ({s:g})" for d, s in given.items() if float(s) != int(s)]
    if not_whole:
        problems.append(f"slots are whole numbers: {', '.join(not_whole)}")
    given = {d: int(s) for d, s in given.items()}
    outside = [f"{name(d)} (P{s})" for d, s in given.items() if not 1 <= s <= n]
    if outside:
        problems.append(f"slots go from 1 to {n}: {', '.join(outside)}")
    by_slot: dict[int, list[str]] = {}
    for d, s in given.items():
        by_slot.setdefault(s, []).append(name(d))
    twice = [f"P{s} is given to {' and '.join(ds)}" for s, ds in sorted(by_slot.items()) if len(ds) > 1]
    problems += twice
    free = [f"P{s}" for s in range(1, n + 1) if s not in by_slot]
    if free and (twice or empty or outside):
        problems.append(f"nobody starts from {', '.join(free)}")
    if problems:
        raise ScenarioError("The grid is not applied: " + "; ".join(problems) + ". Give every driver a different "
                            "slot, or use “Move one driver”, which shifts the others for you.")
    return tuple(d for d, _ in sorted(given.items(), key=lambda kv: kv[1]))


def shortest_grid_order(order: tuple[str, ...], race_grid: tuple[str, ...]) -> tuple[str, ...] | None:
    """The shortest head of a whole grid `order` that gives the same grid once the drivers it does
    not name follow in the race's own order (as `apply_scenario` does): short links. None when
    `order` is the race's own grid."""
    for k in range(len(order) + 1):
        head = order[:k]
        if list(order[k:]) == [d for d in race_grid if d not in head]:
            return tuple(head) or None
    return tuple(order)


def apply_scenario(rows: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Rows of one race with the scenario's overrides. The grid: the order's drivers first, then
    the others in the race's own order; each moved driver takes exactly his place and the rest
    fill the free places in that order, so a single move shifts the cars between his old and new
    place by one, as on a real grid. Places count the cars from the front: the k-th car starts from
    the race's k-th slot, so a slot left empty by a car that did not start stays empty."""
    out = rows.copy()
    for name in CONDITIONS:
        value = getattr(scenario, name)
        if value is not None:
            out[name] = float(value)
    field_drivers = list(out["driver_ref"])
    scenario.check_field(field_drivers)
    if not (scenario.grid_order or scenario.grid_slots):
        return out
    race_order = _grid_order(out)
    head = list(scenario.grid_order or ())
    order = head + [d for d in race_order if d not in head]
    pinned = dict(scenario.grid_slots)
    free = iter(d for d in order if d not in pinned)
    by_slot = {s: d for d, s in pinned.items()}
    final = [by_slot[s] if s in by_slot else next(free) for s in range(1, len(order) + 1)]
    own = np.sort(out["grid"].to_numpy(dtype=float))  # NaN (no slot yet) last
    own = np.where(np.isnan(own), np.arange(1, len(own) + 1), own)
    out["grid"] = out["driver_ref"].map({d: own[i] for i, d in enumerate(final)}).astype(float)
    moved = set(pinned) | (set(head) if scenario.grid_order else set())
    out.loc[out["driver_ref"].isin(moved), "pit_lane_start"] = 0.0
    return out


def _grid_order(rows: pd.DataFrame) -> list[str]:
    return list(rows.sort_values(["grid", "driver_ref"], na_position="last", kind="mergesort")["driver_ref"])
