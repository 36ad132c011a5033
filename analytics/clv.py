"""Customer lifetime value: BG/NBD purchase model, Gamma-Gamma spend model, discounted CLV.

Pure numpy/scipy/pandas; no database. The models follow

* Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
  Pareto/NBD model", Marketing Science 24(2) -- BG/NBD.
* Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base
  analysis", Journal of Marketing Research 42(4) -- Gamma-Gamma spend model.

Data definitions (see ``docs/clv.md``): a *purchase* is a calendar day (UTC) with at least one
non-negative-amount transaction; ``frequency`` counts repeat purchase days, ``recency`` and ``T``
are measured from the first purchase day in time units of ``time_unit_days`` days, and
``monetary_value`` is the mean spend per repeat purchase day, reduced by the customer's
refund share. On CDNOW these definitions reproduce the published parameters.

>>> import pandas as pd
>>> tx = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
...                    "occurred_at": ["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-08"],
...                    "amount": [10.0, 5.0, 20.0, 7.0]})
>>> summary_from_transactions(tx, calibration_end="2024-01-29")[["frequency", "recency", "T"]]
             frequency  recency    T
customer_id                         
a                    1      2.0  4.0
b                    0      0.0  3.0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from graph.errors import InputError

__all__ = [
    "BGNBDParams",
    "GammaGammaParams",
    "summary_from_transactions",
    "fit_bgnbd",
    "bgnbd_log_likelihood",
    "expected_purchases",
    "p_alive",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "expected_average_order_value",
    "customer_lifetime_value",
    "score_customers",
    "DAYS_PER_MONTH",
]

DAYS_PER_MONTH = 365.25 / 12.0
"""Length of the month used by the CLV horizon and discounting (30.44 days)."""

_LOG_BOUND = 18.0  # parameters are fitted as logs inside [-18, 18] (1.5e-8 .. 6.6e7)


@dataclass(frozen=True)
class BGNBDParams:
    """BG/NBD parameters: purchase rate ~ Gamma(r, alpha); dropout p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma parameters: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, v)."""

    p: float
    q: float
    v: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


# --------------------------------------------------------------------------- summary


def _to_days(values: pd.Series) -> pd.Series:
    """Parse ISO dates/date-times (any offset) to naive UTC midnight of their UTC day."""
    if pd.api.types.is_datetime64_any_dtype(values):
        ts = values
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    else:
        try:
            ts = pd.to_datetime(values, utc=True, format="ISO8601").dt.tz_localize(None)
        except (ValueError, TypeError) as e:
            raise InputError(f"occurred_at: cannot parse dates as ISO 8601 ({e})") from e
    if ts.isna().any():
        raise InputError(f"occurred_at: {int(ts.isna().sum())} missing or unparsable dates")
    return ts.dt.normalize()


def _to_day(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize()


def summary_from_transactions(
    tx: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "occurred_at",
    amount_col: str = "amount",
    calibration_end: Any = None,
    time_unit_days: float = 7.0,
) -> pd.DataFrame:
    """Turn transaction lines into the per-customer (frequency, recency, T, monetary_value).

    Parameters
    ----------
    tx : DataFrame
        One row per transaction line (the data-contract ``transactions.csv`` columns).
    calibration_end : date-like, optional
        Last day (inclusive) of the calibration period; later rows are ignored and customers
        whose first purchase is later are left out. Defaults to the last transaction day.
    time_unit_days : float
        Length of one time unit in days (7 = weeks, as in the papers).

    Returns
    -------
    DataFrame indexed by customer with ``frequency`` (repeat purchase days), ``recency``
    (first to last purchase day), ``T`` (first purchase day to ``calibration_end``), both in
    time units, and ``monetary_value`` (mean spend per repeat purchase day after refunds;
    0 when frequency is 0).

    Notes
    -----
    Several lines on one day are one purchase whose spend is their sum. Rows with amount
    < 0 are refunds, not purchases (a zero amount, e.g. a free CD, is a purchase: CDNOW has
    such rows and the papers count them). Refunds in the calibration period shrink the
    customer's ``monetary_value`` by the share of their gross spend that was refunded.
    """
    missing = [c for c in (customer_col, date_col, amount_col) if c not in tx.columns]
    if missing:
        raise InputError(f"transactions: missing column(s) {', '.join(missing)}")
    if time_unit_days <= 0:
        raise InputError("time_unit_days must be positive")
    amount = pd.to_numeric(tx[amount_col], errors="coerce")
    if amount.isna().any():
        raise InputError(f"{amount_col}: {int(amount.isna().sum())} missing or non-numeric amounts")
    if tx[customer_col].isna().any():
        raise InputError(f"{customer_col}: missing customer ids")
    df = pd.DataFrame(
        {
            "c": tx[customer_col].to_numpy(),
            "d": _to_days(tx[date_col]).to_numpy(),
            "a": amount.to_numpy(dtype=float),
        }
    )
    if df.empty:
        raise InputError("transactions: no rows")
    end = _to_day(calibration_end) if calibration_end is not None else df["d"].max()
    df = df[df["d"] <= end]
    purchases = df[df["a"] >= 0]
    refunded = -df.loc[df["a"] < 0].groupby("c", sort=False)["a"].sum()

    daily = purchases.groupby(["c", "d"], sort=True, as_index=False)["a"].sum()
    g = daily.groupby("c", sort=True)
    per = pd.DataFrame(
        {
            "days": g.size(),
            "first": g["d"].min(),
            "last": g["d"].max(),
            "gross": g["a"].sum(),
            "first_spend": g["a"].first(),  # rows are sorted by day within customer
        }
    )
    per.index.name = customer_col
    unit = np.timedelta64(1, "D") * 1.0
    frequency = (per["days"] - 1).astype("int64")
    recency = ((per["last"] - per["first"]) / unit) / time_unit_days
    T = ((end - per["first"]) / unit) / time_unit_days
    refund_share = (refunded.reindex(per.index).fillna(0.0) / per["gross"]).clip(0.0, 1.0)
    repeat_spend = (per["gross"] - per["first_spend"]).clip(lower=0.0)
    monetary = np.where(frequency > 0, repeat_spend / frequency.clip(lower=1), 0.0)
    monetary = monetary * (1.0 - refund_share.to_numpy())
    return pd.DataFrame(
        {
            "frequency": frequency,
            "recency": recency.astype(float),
            "T": T.astype(float),
            "monetary_value": np.asarray(monetary, dtype=float),
        },
        index=per.index,
    )


# --------------------------------------------------------------------------- helpers


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _aggregate(*cols: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Collapse identical rows into unique rows with counts (the likelihood is a sum)."""
    stacked = np.column_stack(cols)
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    return [uniq[:, i] for i in range(uniq.shape[1])], counts.astype(float)


def _minimise(fun, x0_list: list[np.ndarray], n: int) -> np.ndarray:
    """Minimise ``fun(theta) -> (value, gradient)`` over log-parameters.

    L-BFGS-B with the analytic gradient from each start in turn until one converges; a
    Nelder-Mead polish of the best only if none did.
    """
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * n
    best = None
    for x0 in x0_list:
        res = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 1000})
        # "ABNORMAL" line-search ends at the precision limit count as converged when flat
        res.success = bool(res.success or np.max(np.abs(res.jac)) < 1e-6)
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
        if best is not None and best.success:
            break
    if best is None:
        raise InputError("the model could not be fitted: the likelihood is not finite")
    x = best.x
    if not best.success:
        polish = optimize.minimize(lambda th: fun(th)[0], best.x, method="Nelder-Mead",
                                   options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 2000})
        if np.isfinite(polish.fun) and polish.fun <= best.fun:
            x = polish.x
    return np.clip(x, -_LOG_BOUND, _LOG_BOUND)


# --------------------------------------------------------------------------- BG/NBD


def bgnbd_log_likelihood(
    params: BGNBDParams, frequency: Any, recency: Any, T: Any
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (FHL 2005 eq. 6), computed in log space."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, tx, T = _arr(frequency), _arr(recency), _arr(T)
    return _bgnbd_ll(r, alpha, a, b, x, tx, T)


def _bgnbd_a12(r, alpha, a, b, x):
    return (special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
            + special.betaln(a, b + x) - special.betaln(a, b))


def _bgnbd_ll(r, alpha, a, b, x, tx, T):
    a12 = _bgnbd_a12(r, alpha, a, b, x)
    a3 = -(r + x) * np.log(alpha + T)
    pos = x > 0
    a4 = np.full_like(x, -np.inf)
    xp = x[pos]
    a4[pos] = np.log(a) - np.log(b + xp - 1.0) - (r + xp) * np.log(alpha + tx[pos])
    return a12 + np.logaddexp(a3, a4)


def _check_rft(x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> None:
    if not (x.shape == tx.shape == T.shape):
        raise InputError("frequency, recency and T must have the same length")
    if x.size == 0:
        raise InputError("no customers to fit")
    if not (np.isfinite(x).all() and np.isfinite(tx).all() and np.isfinite(T).all()):
        raise InputError("frequency, recency and T must be finite")
    if (x < 0).any() or (tx < 0).any() or (T < tx - 1e-9).any():
        raise InputError("need 0 <= recency <= T and frequency >= 0")
    if not np.allclose(x, np.round(x)):
        raise InputError("frequency must be a whole number of repeat purchases")


def fit_bgnbd(frequency: Any, recency: Any, T: Any) -> BGNBDParams:
    """Maximum-likelihood BG/NBD fit on (frequency, recency, T) per customer.

    Raises ``InputError`` when the data cannot identify the model: fewer than two
    customers, or no customer with a repeat purchase.
    """
    x, tx, T_ = _arr(frequency), _arr(recency), _arr(T)
    _check_rft(x, tx, T_)
    if x.size < 2:
        raise InputError("BG/NBD needs at least two customers")
    if not (x > 0).any():
        raise InputError("BG/NBD needs at least one customer with a repeat purchase")
    if not (T_ > 0).any():
        raise InputError("BG/NBD needs customers observed for some time (all T are 0)")
    (ux, utx, uT), w = _aggregate(x, tx, T_)
    wsum = w.sum()

    pos = ux > 0
    xs, xi = np.unique(ux, return_inverse=True)  # special functions of x: once per value

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = np.exp(theta)
        gl = special.gammaln
        a12 = ((gl(r + xs) + gl(b + xs) - gl(a + b + xs))[xi]
               - gl(r) + r * np.log(alpha) + gl(a + b) - gl(b))
        log_at, log_atx = np.log(alpha + uT), np.log(alpha + utx)
        a3 = -(r + ux) * log_at
        a4 = np.full_like(ux, -np.inf)
        a4[pos] = (np.log(a) - np.log(b + ux[pos] - 1.0) - (r + ux[pos]) * log_atx[pos])
        lse = np.logaddexp(a3, a4)
        val = -float(np.dot(w, a12 + lse)) / wsum
        if not np.isfinite(val):
            return 1e300, np.zeros(4)
        w3 = np.exp(a3 - lse)  # weight of the "still alive" term (1 when x = 0)
        w4 = 1.0 - w3
        dg = special.digamma
        dg_rx, dg_abx, dg_bx = (dg(r + xs)[xi], dg(a + b + xs)[xi], dg(b + xs)[xi])
        d_r = dg_rx - dg(r) + np.log(alpha) - w3 * log_at - w4 * log_atx
        d_alpha = r / alpha - (r + ux) * (w3 / (alpha + uT) + w4 / (alpha + utx))
        d_a = dg(a + b) - dg_abx + w4 / a
        d_b = dg_bx - dg_abx - dg(b) + dg(a + b) - w4 / np.where(pos, b + ux - 1.0, 1.0)
        grad = np.array([np.dot(w, d) for d in (d_r, d_alpha, d_a, d_b)]) / wsum
        return val, -grad * np.array([r, alpha, a, b])

    rate = max(float(np.mean(x)), 1e-3) / max(float(np.mean(T_)), 1e-3)
    starts = [np.log([1.0, 1.0 / rate, 1.0, 1.0]), np.log([0.3, 0.3 / rate, 0.7, 3.0])]
    theta = _minimise(nll, starts, 4)
    params = BGNBDParams(*map(float, np.exp(theta)))
    if not all(np.isfinite(list(params.as_dict().values()))):
        raise InputError("BG/NBD fit did not converge to finite parameters")
    return params


def p_alive(params: BGNBDParams, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """P(customer still active at T | x, t_x, T) (FHL 2005 eq. 13); 1 when frequency is 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, tx, T_ = np.broadcast_arrays(_arr(frequency), _arr(recency), _arr(T))
    log_ratio = np.full(x.shape, -np.inf)
    pos = x > 0
    xp = x[pos]
    log_ratio[pos] = (np.log(a) - np.log(b + xp - 1.0)
                      + (r + xp) * (np.log(alpha + T_[pos]) - np.log(alpha + tx[pos])))
    return special.expit(-log_ratio)


def _one_minus_scaled_2f1_over_am1(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, T: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """(1 - ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x; a+b+x-1; z)) / (a - 1).

    Uses Euler's transformation so the hypergeometric parameters do not grow with x:
    (1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z), c = a+b+x-1,
    z = t/(alpha+T+t). Near a = 1 (0/0) it averages a symmetric pair of evaluations.
    """

    def f(aa: float) -> np.ndarray:
        z = t / (alpha + T + t)
        c = aa + b + x - 1.0
        h = special.hyp2f1(aa + b - 1.0 - r, aa - 1.0, c, z)
        log1mz = np.log1p(-z)
        with np.errstate(invalid="ignore", divide="ignore"):
            stable = -np.expm1((aa - 1.0) * log1mz + np.log(h))  # accurate near a = 1
        direct = 1.0 - np.exp((aa - 1.0) * log1mz) * h  # h can be <= 0 when c < 0
        return np.where(h > 0, stable, direct) / (aa - 1.0)

    eps = 1e-4
    if abs(a - 1.0) < eps:  # 0/0 at a = 1: interpolate between two well-conditioned points
        lo, hi = f(1.0 - eps), f(1.0 + eps)
        return lo + (a - (1.0 - eps)) / (2.0 * eps) * (hi - lo)
    return f(a)


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(32)


def _conditional_rate_quadrature(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, T: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """E_p[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p] for p ~ Beta(a, b+x), by quadrature.

    Used when the Beta is concentrated (large a, b: the hypergeometric form overflows).
    32 Gauss-Legendre nodes over mean +- 12 sd, weights self-normalised from the log density.
    """
    bx = b + x
    mean = a / (a + bx)
    sd = np.sqrt(a * bx / ((a + bx) ** 2 * (a + bx + 1.0)))
    lo = np.clip(mean - 12.0 * sd, 1e-300, None)
    hi = np.clip(mean + 12.0 * sd, None, 1.0 - 1e-16)
    half = (hi - lo)[..., None] / 2.0
    p = (lo + hi)[..., None] / 2.0 + half * _GL_NODES
    logw = (a - 1.0) * np.log(p) + (bx[..., None] - 1.0) * np.log1p(-p)
    w = _GL_WEIGHTS * np.exp(logw - logw.max(axis=-1, keepdims=True))
    w /= w.sum(axis=-1, keepdims=True)
    g = -np.expm1(-(r + x[..., None]) * np.log1p(p * (t / (alpha + T))[..., None])) / p
    return (w * g).sum(axis=-1)


def expected_purchases(
    params: BGNBDParams, t: Any, frequency: Any, recency: Any, T: Any
) -> np.ndarray:
    """E[number of purchases in (T, T+t] | x, t_x, T] (FHL 2005 eq. 10), vectorised.

    ``t`` may be a scalar or broadcast against the customer arrays (e.g. shape (k, 1) for k
    horizons).
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t_, x, tx, T_ = np.broadcast_arrays(_arr(t), _arr(frequency), _arr(recency), _arr(T))
    if (t_ < 0).any():
        raise InputError("t must be >= 0")
    if a > 100.0:  # concentrated dropout distribution: quadrature is accurate and safe
        rate = _conditional_rate_quadrature(r, alpha, a, b, x, T_, t_)
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            rate = (a + b + x - 1.0) * _one_minus_scaled_2f1_over_am1(
                r, alpha, a, b, x, T_, t_)
        bad = ~np.isfinite(rate) | (rate < 0)
        if bad.any():
            rate[bad] = _conditional_rate_quadrature(r, alpha, a, b, x[bad], T_[bad], t_[bad])
    out = rate * p_alive(params, x, tx, T_)
    return np.where(t_ == 0, 0.0, out)


# --------------------------------------------------------------------------- Gamma-Gamma


def _gg_ll(p, q, v, x, m):
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
            + q * np.log(v) + (px - 1.0) * np.log(m) + px * np.log(x)
            - (px + q) * np.log(v + x * m))


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, frequency: Any, monetary_value: Any
) -> np.ndarray:
    """Per-customer log-density of the observed mean spend (FHL 2005 RFM/CLV, appendix)."""
    return _gg_ll(params.p, params.q, params.v, _arr(frequency), _arr(monetary_value))


def fit_gamma_gamma(frequency: Any, monetary_value: Any) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma fit on customers with frequency > 0 and spend > 0.

    Customers without a repeat purchase (or whose repeat spend was fully refunded) carry no
    information about spend per purchase in this model and are skipped.
    """
    x, m = _arr(frequency), _arr(monetary_value)
    if x.shape != m.shape:
        raise InputError("frequency and monetary_value must have the same length")
    keep = (x > 0) & (m > 0) & np.isfinite(m)
    if keep.sum() < 2:
        raise InputError("Gamma-Gamma needs at least two customers with repeat purchases")
    x, m = x[keep], m[keep]
    if np.allclose(m, m[0], rtol=1e-12, atol=0):
        raise InputError("Gamma-Gamma needs spend that varies between customers")
    (ux, um), w = _aggregate(x, m)
    wsum = w.sum()
    scale = float(np.mean(m))

    um = um / scale  # spend rescaled to mean 1 for conditioning; v scales back linearly
    xs, xi = np.unique(ux, return_inverse=True)
    log_m, log_x = np.log(um), np.log(ux)
    log_xm = log_m + log_x

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, v = np.exp(theta)
        pxs = p * xs
        ll = ((special.gammaln(pxs + q) - special.gammaln(pxs))[xi] - special.gammaln(q)
              + q * np.log(v) + (p * ux - 1.0) * log_m + p * ux * log_x
              - (p * ux + q) * np.log(v + ux * um))
        val = -float(np.dot(w, ll)) / wsum
        if not np.isfinite(val):
            return 1e300, np.zeros(3)
        pxs = p * xs
        dg = special.digamma(pxs + q)[xi]
        log_vxm = np.log(v + ux * um)
        d_p = ux * (dg - special.digamma(pxs)[xi] + log_xm - log_vxm)
        d_q = dg - special.digamma(q) + np.log(v) - log_vxm
        d_v = q / v - (p * ux + q) / (v + ux * um)
        grad = np.array([np.dot(w, d) for d in (d_p, d_q, d_v)]) / wsum
        return val, -grad * np.array([p, q, v])

    starts = [np.log([1.0, 2.0, 1.0]), np.log([5.0, 4.0, 3.0])]
    theta = _minimise(nll, starts, 3)
    p, q, v = np.exp(theta)
    params = GammaGammaParams(float(p), float(q), float(v * scale))
    if not all(np.isfinite(list(params.as_dict().values()))):
        raise InputError("Gamma-Gamma fit did not converge to finite parameters")
    return params


def expected_average_order_value(
    params: GammaGammaParams, frequency: Any, monetary_value: Any
) -> np.ndarray:
    """E[spend per purchase | x, m_x]: a weighted mean of the population mean and m_x.

    (v + x m_x) p / (p x + q - 1). For customers with frequency 0 this is the population mean
    p v / (q - 1); when q <= 1 that mean does not exist and the mean observed spend of the
    repeat customers is used instead (documented in docs/clv.md).
    """
    p, q, v = params.p, params.q, params.v
    x, m = np.broadcast_arrays(_arr(frequency), _arr(monetary_value))
    m = np.where(x > 0, np.clip(m, 0.0, None), 0.0)
    denom = p * x + q - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (v + x * m) * p / denom
    bad = denom <= 0
    if bad.any():
        rep = (x > 0) & (m > 0)
        fallback = float(np.mean(m[rep])) if rep.any() else 0.0
        out = np.where(bad, np.where(x > 0, m, fallback), out)
    return out


# --------------------------------------------------------------------------- CLV


def customer_lifetime_value(
    bg: BGNBDParams,
    gg: GammaGammaParams,
    frequency: Any,
    recency: Any,
    T: Any,
    monetary_value: Any,
    *,
    horizon_months: int = 12,
    discount_rate_monthly: float = 0.01,
    time_unit_days: float = 7.0,
) -> np.ndarray:
    """Discounted expected spend over the next ``horizon_months`` months.

    sum_{k=1..H} AOV * (E[Y(k months)] - E[Y(k-1 months)]) / (1 + d)^k, the same scheme as
    the lifetimes package (each month's purchases are discounted at the month's end).
    """
    if horizon_months < 0:
        raise InputError("horizon_months must be >= 0")
    if discount_rate_monthly <= -1:
        raise InputError("discount_rate_monthly must be > -1")
    x, tx, T_ = _arr(frequency), _arr(recency), _arr(T)
    aov = expected_average_order_value(gg, x, monetary_value)
    if horizon_months == 0:
        return np.zeros_like(x)
    month = DAYS_PER_MONTH / time_unit_days
    ks = np.arange(0, horizon_months + 1, dtype=float)
    cum = expected_purchases(bg, (ks * month)[:, None], x[None, :], tx[None, :], T_[None, :])
    per_month = np.diff(cum, axis=0)
    disc = (1.0 + discount_rate_monthly) ** -ks[1:]
    return aov * (disc @ per_month)


def score_customers(
    tx: pd.DataFrame,
    *,
    calibration_end: Any = None,
    horizon_months: int = 12,
    discount_rate_monthly: float = 0.01,
    time_unit_days: float = 7.0,
    customer_col: str = "customer_id",
    date_col: str = "occurred_at",
    amount_col: str = "amount",
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """Fit BG/NBD and Gamma-Gamma on ``tx`` and score every customer.

    Returns one row per customer (index ``customer_col``) with ``frequency, recency, T,
    monetary_value, expected_purchases`` (over the horizon), ``p_alive``, ``churn_risk``
    (1 - p_alive), ``expected_aov`` and ``clv``, plus the fitted parameters as
    ``{"bgnbd": {"r", "alpha", "a", "b"}, "gamma_gamma": {"p", "q", "v"}}``.
    """
    s = summary_from_transactions(
        tx, customer_col=customer_col, date_col=date_col, amount_col=amount_col,
        calibration_end=calibration_end, time_unit_days=time_unit_days,
    )
    if len(s) < 2:
        raise InputError(f"CLV needs at least two customers with purchases (found {len(s)})")
    x, rec, T_, m = (s[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T",
                                                           "monetary_value"))
    bg = fit_bgnbd(x, rec, T_)
    gg = fit_gamma_gamma(x, m)
    horizon = horizon_months * DAYS_PER_MONTH / time_unit_days
    out = s.copy()
    out["expected_purchases"] = expected_purchases(bg, horizon, x, rec, T_)
    out["p_alive"] = p_alive(bg, x, rec, T_)
    out["churn_risk"] = 1.0 - out["p_alive"]
    out["expected_aov"] = expected_average_order_value(gg, x, m)
    out["clv"] = customer_lifetime_value(
        bg, gg, x, rec, T_, m, horizon_months=horizon_months,
        discount_rate_monthly=discount_rate_monthly, time_unit_days=time_unit_days,
    )
    scores = out[["expected_purchases", "p_alive", "expected_aov", "clv"]].to_numpy()
    if not np.isfinite(scores).all():
        raise InputError("CLV scores are not finite: the fitted models do not suit this data")
    return out, {"bgnbd": bg.as_dict(), "gamma_gamma": gg.as_dict()}
