import numpy as np
import pytest

from f1core.engine.models import WeatherEffect, wetness
from f1core.engine.weather_effect import fit_weather_effect


def _season(n_races=120, wet_share=0.25, wet_flatten=0.6, wet_dnf=0.25, seed=1):
    """Synthetic races: strengths = log P(win | slot) of a steep grid; wet races are flatter
    (strengths times 1 - wet_flatten) and have more retirements."""
    rng = np.random.default_rng(seed)
    n = 20
    grid = np.arange(1, n + 1, dtype=float)
    ref = -1.2 * np.log(grid)
    cols = {k: [] for k in ("ref", "rain", "finish", "group", "dnf", "dnf_logit")}
    for r in range(n_races):
        rain = 1.0 if rng.random() < wet_share else 0.0
        s = ref * (1 - wet_flatten * rain)
        p_dnf = wet_dnf if rain else 0.1
        out = rng.random(n) < p_dnf
        key = s + rng.gumbel(size=n) - 1e6 * out
        order = np.argsort(-key)
        finish = np.empty(n)
        finish[order] = np.arange(1, n + 1)
        cols["ref"].append(ref)
        cols["rain"].append(np.full(n, rain))
        cols["finish"].append(np.where(out, np.nan, finish))
        cols["group"].append(np.full(n, r))
        cols["dnf"].append(out.astype(float))
        cols["dnf_logit"].append(np.full(n, np.log(0.1 / 0.9)))
    return {k: np.concatenate(v) for k, v in cols.items()}


def test_wet_races_are_learned_flatter_with_more_retirements():
    d = _season()
    effect = fit_weather_effect(d["ref"], d["rain"], d["finish"], d["group"], d["dnf"], d["dnf_logit"])
    assert 0.3 < effect.gamma < 0.9 and effect.gamma_sd < 0.2
    assert effect.delta > 0.5
    assert effect.wet_races == pytest.approx(30, abs=12)


def test_no_difference_means_no_effect():
    d = _season(wet_flatten=0.0, wet_dnf=0.1)
    effect = fit_weather_effect(d["ref"], d["rain"], d["finish"], d["group"], d["dnf"], d["dnf_logit"])
    assert effect.gamma < 0.15 and abs(effect.delta) < 0.4


def test_too_few_wet_races_keep_the_prior():
    d = _season(n_races=30, wet_share=0.0)
    effect = fit_weather_effect(d["ref"], d["rain"], d["finish"], d["group"], d["dnf"], d["dnf_logit"])
    assert effect.gamma == 0 and effect.delta == 0


def test_wetness_and_effect_shape():
    assert wetness([0.0, 0.25, 0.5, 1.0, np.nan]).tolist() == [0.0, 0.5, 1.0, 1.0, 0.0]
    e = WeatherEffect(0.4, 0.1, 0.5, 0.2, 10, 100)
    assert e.strength_factor(1.0) == pytest.approx(0.6) and e.strength_factor(0.0) == 1.0
    assert e.dnf_logit_shift(1.0) == pytest.approx(0.5)
