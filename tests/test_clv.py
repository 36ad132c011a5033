"""BG/NBD, Gamma-Gamma and CLV: the published CDNOW fit, and checks independent of the code.

Independent answers come from the papers (parameters), a Monte-Carlo simulation of the
BG/NBD process, numerical integration over the posterior, and closed forms written out here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from analytics import clv
from analytics.clv import (
    BGNBDParams,
    GammaGammaParams,
    customer_lifetime_value,
    expected_average_order_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    p_alive,
    score_customers,
    summary_from_transactions,
)
from graph.errors import C360Error
from loaders.cdnow import load_cdnow


def sig3(x: float) -> float:
    return float(f"{x:.3g}")


@pytest.fixture(scope="module")
def cdnow_tx():
    return load_cdnow(sample=True)[1]


@pytest.fixture(scope="module")
def cdnow_summary(cdnow_tx):
    return summary_from_transactions(cdnow_tx, calibration_end="1997-09-30")


# ------------------------------------------------------------------ CDNOW (the papers)


def test_cdnow_summary_definitions(cdnow_summary, cdnow_tx):
    s = cdnow_summary
    assert len(s) == 2357
    assert int((s["frequency"] > 0).sum()) == 946  # repeat customers in both papers
    assert int(s["frequency"].sum()) == 2457
    # customer 00004 by hand: 1997-01-01, 01-18, 08-02 in calibration -> 2 repeats
    row = s.loc["cdnow-00004"]
    assert row["frequency"] == 2
    assert row["recency"] == pytest.approx(213 / 7)
    assert row["T"] == pytest.approx(272 / 7)
    assert row["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)


def test_cdnow_bgnbd_reproduces_paper(cdnow_summary):
    s = cdnow_summary
    p = fit_bgnbd(s["frequency"], s["recency"], s["T"])
    assert (sig3(p.r), sig3(p.alpha), sig3(p.a), sig3(p.b)) == (0.243, 4.41, 0.793, 2.43)
    assert round(p.alpha, 3) == pytest.approx(4.414, abs=1e-3)
    assert round(p.b, 3) == pytest.approx(2.426, abs=1e-3)
    ll = clv.bgnbd_log_likelihood(p, s["frequency"], s["recency"], s["T"]).sum()
    assert ll == pytest.approx(-9582.4, abs=0.05)  # log-likelihood reported in the paper


def test_cdnow_gamma_gamma_reproduces_paper(cdnow_summary):
    s = cdnow_summary
    p = fit_gamma_gamma(s["frequency"], s["monetary_value"])
    assert (sig3(p.p), sig3(p.q), sig3(p.v)) == (6.25, 3.74, 15.4)
    assert p.v == pytest.approx(15.44, abs=0.005)


def test_score_customers_on_cdnow(cdnow_tx):
    df, params = score_customers(cdnow_tx, calibration_end="1997-09-30")
    assert len(df) == 2357
    assert set(params) == {"bgnbd", "gamma_gamma"}
    assert params["bgnbd"]["r"] == pytest.approx(0.243, abs=5e-4)
    for col in ("expected_purchases", "p_alive", "churn_risk", "expected_aov", "clv"):
        assert np.isfinite(df[col]).all()
    assert np.allclose(df["churn_risk"], 1 - df["p_alive"])
    assert (df["clv"] >= 0).all()
    # a 0% discount CLV equals AOV x expected purchases over the horizon
    s = df
    bg, gg = BGNBDParams(**params["bgnbd"]), GammaGammaParams(**params["gamma_gamma"])
    undiscounted = customer_lifetime_value(
        bg, gg, s["frequency"], s["recency"], s["T"], s["monetary_value"],
        discount_rate_monthly=0.0)
    assert np.allclose(undiscounted, s["expected_aov"] * s["expected_purchases"], rtol=1e-9)
    assert (df["clv"] <= undiscounted + 1e-9).all()


# ------------------------------------------------------------------ formulas


def test_p_alive_is_one_without_repeats_and_matches_closed_form():
    bg = BGNBDParams(0.5, 3.0, 0.8, 2.0)
    assert np.all(p_alive(bg, [0, 0], [0, 0], [5.0, 50.0]) == 1.0)
    x, tx, T = 3.0, 10.0, 30.0
    by_hand = 1.0 / (1.0 + 0.8 / (2.0 + x - 1.0) * ((3.0 + T) / (3.0 + tx)) ** (0.5 + x))
    assert p_alive(bg, x, tx, T) == pytest.approx(by_hand, rel=1e-12)


def _posterior_integral(bg, t, x, tx, T):
    """E[Y(t)] = P(alive) * E_p[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p], p ~ Beta(a, b+x)."""
    def f(p):
        g = (1 - ((bg.alpha + T) / (bg.alpha + T + p * t)) ** (bg.r + x)) / p
        return g * stats.beta.pdf(p, bg.a, bg.b + x)
    lo, hi = stats.beta.ppf([1e-13, 1 - 1e-13], bg.a, bg.b + x)
    val = integrate.quad(f, lo, hi, limit=400, epsabs=0, epsrel=1e-11)[0]
    return float(p_alive(bg, x, tx, T)) * val


@pytest.mark.parametrize("a,b", [(0.79, 2.4), (1.0, 2.0), (1.00003, 3.0), (3.0, 20.0),
                                 (60.0, 600.0), (5e3, 5e4), (8e6, 6e7)])
@pytest.mark.parametrize("x,tx,T,t", [(0, 0, 30, 52), (3, 20, 30, 52), (25, 29, 30, 300),
                                      (2, 5, 30, 4)])
def test_expected_purchases_matches_posterior_integral(a, b, x, tx, T, t):
    bg = BGNBDParams(0.6, 5.0, a, b)
    ours = float(expected_purchases(bg, t, x, tx, T))
    assert ours == pytest.approx(_posterior_integral(bg, t, x, tx, T), rel=1e-6)


def _simulate(rng, n, r, alpha, a, b, T_cal, t_hold):
    """BG/NBD: first purchase at 0, Poisson(lambda) repeats, dropout p after each repeat."""
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    tx = np.zeros(n)
    y = np.zeros(n)
    for i in range(n):
        k_max = rng.geometric(p[i])  # repeats made before dropping out (incl. the last)
        times = np.cumsum(rng.exponential(1.0 / lam[i], min(k_max, 10_000)))
        cal = times[times <= T_cal[i]]
        x[i] = len(cal)
        tx[i] = cal[-1] if len(cal) else 0.0
        y[i] = np.count_nonzero((times > T_cal[i]) & (times <= T_cal[i] + t_hold))
    return x, tx, y


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(20240501)
    n = 12_000
    true = BGNBDParams(0.7, 6.0, 1.2, 3.5)
    T = rng.uniform(26.0, 52.0, n)
    x, tx, y = _simulate(rng, n, true.r, true.alpha, true.a, true.b, T, 39.0)
    return true, x, tx, T, y


def test_expected_purchases_vs_monte_carlo(simulated):
    true, x, tx, T, y = simulated
    pred = expected_purchases(true, 39.0, x, tx, T)
    assert pred.sum() == pytest.approx(y.sum(), rel=0.04)
    for lo, hi in [(0, 0), (1, 2), (3, 6), (7, 1000)]:
        sel = (x >= lo) & (x <= hi)
        assert pred[sel].mean() == pytest.approx(y[sel].mean(), rel=0.1), (lo, hi)


def test_bgnbd_parameter_recovery(simulated):
    true, x, tx, T, _ = simulated
    fit = fit_bgnbd(x, tx, T)
    assert fit.r == pytest.approx(true.r, rel=0.12)
    assert fit.alpha == pytest.approx(true.alpha, rel=0.15)
    assert fit.a == pytest.approx(true.a, rel=0.35)
    assert fit.b == pytest.approx(true.b, rel=0.35)
    # dropout probability per purchase a/(a+b) is well identified
    assert fit.a / (fit.a + fit.b) == pytest.approx(true.a / (true.a + true.b), rel=0.1)


def test_gamma_gamma_recovery_and_conditional_mean():
    rng = np.random.default_rng(7)
    p, q, v = 4.0, 3.0, 20.0
    n = 8000
    nu = rng.gamma(q, 1.0 / v, n)
    x = rng.integers(1, 8, n)
    zbar = np.array([rng.gamma(p, 1.0 / nu[i], x[i]).mean() for i in range(n)])
    fit = fit_gamma_gamma(x, zbar)
    assert fit.p == pytest.approx(p, rel=0.15)
    assert fit.q == pytest.approx(q, rel=0.15)
    assert fit.v == pytest.approx(v, rel=0.2)
    # closed form by hand: (v + x m) p / (p x + q - 1)
    gg = GammaGammaParams(p, q, v)
    got = expected_average_order_value(gg, [0, 1, 5], [0.0, 30.0, 12.0])
    expect = [p * v / (q - 1), (v + 30.0) * p / (p + q - 1), (v + 60.0) * p / (5 * p + q - 1)]
    assert got == pytest.approx(expect, rel=1e-12)
    # it is the posterior mean of a customer's true average spend p / nu: on average over
    # the simulated customers with 5 purchases it matches the truth within 5%
    sel = x == 5
    posterior = expected_average_order_value(gg, x[sel], zbar[sel])
    assert posterior.mean() == pytest.approx((p / nu[sel]).mean(), rel=0.05)


def test_clv_discounting_by_hand():
    bg = BGNBDParams(0.5, 4.0, 0.8, 2.5)
    gg = GammaGammaParams(6.0, 4.0, 15.0)
    x, tx, T, m = np.array([2.0]), np.array([20.0]), np.array([30.0]), np.array([25.0])
    month = clv.DAYS_PER_MONTH / 7.0
    aov = expected_average_order_value(gg, x, m)[0]
    by_hand = 0.0
    for k in range(1, 7):
        d = (expected_purchases(bg, k * month, x, tx, T)[0]
             - expected_purchases(bg, (k - 1) * month, x, tx, T)[0])
        by_hand += aov * d / 1.02 ** k
    got = customer_lifetime_value(bg, gg, x, tx, T, m, horizon_months=6,
                                  discount_rate_monthly=0.02)
    assert got[0] == pytest.approx(by_hand, rel=1e-12)


# ------------------------------------------------------------------ data handling


def _tx(rows):
    return pd.DataFrame(rows, columns=["customer_id", "occurred_at", "amount"])


def test_summary_same_day_and_refunds():
    tx = _tx([
        ("a", "2024-01-01T09:00:00Z", 10.0), ("a", "2024-01-01T18:00:00+00:00", 5.0),
        ("a", "2024-01-15", 20.0), ("a", "2024-01-22", 40.0), ("a", "2024-01-23", -30.0),
        ("b", "2024-01-08", 7.0), ("c", "2024-03-01", 9.0),
    ])
    s = summary_from_transactions(tx, calibration_end="2024-01-29")
    assert "c" not in s.index  # first purchase after calibration end
    a = s.loc["a"]
    assert a["frequency"] == 2  # refund day is not a purchase; same-day lines are one
    assert a["recency"] == pytest.approx(21 / 7)
    assert a["T"] == pytest.approx(28 / 7)
    # mean repeat spend 30, gross 75, refunded 30 -> x (1 - 30/75)
    assert a["monetary_value"] == pytest.approx(30.0 * (1 - 30.0 / 75.0))
    assert s.loc["b", "frequency"] == 0 and s.loc["b", "monetary_value"] == 0


def test_degenerate_data_raises_clear_errors():
    one = _tx([("a", "2024-01-01", 5.0), ("a", "2024-02-01", 6.0)])
    with pytest.raises(C360Error, match="two customers"):
        score_customers(one)
    no_repeat = _tx([(f"c{i}", f"2024-01-{i + 1:02d}", 5.0) for i in range(10)])
    with pytest.raises(C360Error, match="repeat"):
        score_customers(no_repeat)
    with pytest.raises(C360Error):
        score_customers(_tx([("a", "not a date", 1.0)]))


def test_refund_heavy_customers_do_not_break_scoring(cdnow_tx):
    tx = cdnow_tx.copy()
    # fully refund every repeat purchase of 20 repeat customers the day after
    s = summary_from_transactions(tx, calibration_end="1997-09-30")
    victims = s.index[s["frequency"] > 0][:20]
    extra = tx[tx["customer_id"].isin(victims)].copy()
    extra["amount"] = -extra["amount"]
    extra["occurred_at"] = (pd.to_datetime(extra["occurred_at"]) + pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d")
    df, _ = score_customers(pd.concat([tx, extra]), calibration_end="1997-09-30")
    assert np.isfinite(df["clv"]).all()
    assert (df.loc[victims, "monetary_value"] == 0).all()
