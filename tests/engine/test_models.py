import numpy as np
import pytest

from f1core.engine.models import plackett_luce_loglik, plackett_luce_objective, simulate


def test_plackett_luce_gradient_matches_the_likelihood():
    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1, 2], [5, 4, 6])
    scores = rng.normal(size=len(groups))
    grad, hess = plackett_luce_objective(groups)(scores, None)
    total = lambda s: -plackett_luce_loglik(s, groups) * 3  # the objective sums over races
    numeric = np.array([(total(scores + e) - total(scores - e)) / 2e-6 for e in np.eye(len(scores)) * 1e-6])
    np.testing.assert_allclose(grad, numeric, atol=1e-5)
    assert (hess > 0).all()


def test_simulation_is_coherent():
    rng = np.random.default_rng(1)
    dist = simulate(rng.normal(size=22), rng.uniform(0.02, 0.3, 22), 5000, seed=3)
    assert dist.p_win.sum() == pytest.approx(1)
    assert dist.p_podium.sum() == pytest.approx(3)
    assert dist.p_points.sum() == pytest.approx(10)
    assert np.allclose(dist.position_probs.sum(axis=0), 1) and np.allclose(dist.position_probs.sum(axis=1), 1)
    assert (dist.p10 <= dist.expected_position + 1e-9).all() and (dist.expected_position <= dist.p90 + 1e-9).all()


def test_stronger_is_never_worse_with_the_same_noise():
    base = np.linspace(1, -1, 10)
    p_dnf = np.full(10, 0.1)
    before = simulate(base, p_dnf, 4000, seed=5).p_win[4]
    stronger = base.copy()
    stronger[4] += 0.5
    assert simulate(stronger, p_dnf, 4000, seed=5).p_win[4] > before
