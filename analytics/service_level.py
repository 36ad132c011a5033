"""Service level of a customer (high-touch, standard, self-service) from their contribution.

The rule is deliberately simple and explainable to a call-centre agent:

* when a CLV has been fitted (``c360 clv fit``), the customer's expected 12-month value
  (``clv``) decides: ``clv >= high_touch_clv`` is high-touch, ``clv >= standard_clv`` is
  standard, anything lower is self-service;
* before any fit, or for a customer the fit could not score, their historical net spend
  (``total_spend``) decides, against ``high_touch_spend`` / ``standard_spend``.

Thresholds are plain amounts in the account currency, so they are configurable per business
(:class:`ServiceThresholds`, or a mapping with the same keys), and
:meth:`ServiceThresholds.from_percentiles` derives them from a value distribution (for
example "the top 10 % by CLV are high-touch").

>>> service_level(total_spend=50.0, clv=2500.0)["level"]
'high-touch'
>>> service_level(total_spend=50.0)["level"]
'self-service'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from graph.errors import InputError

__all__ = ["LEVELS", "ServiceThresholds", "service_level", "as_thresholds"]

LEVELS = ("high-touch", "standard", "self-service")
"""Service levels, most attention first."""


@dataclass(frozen=True)
class ServiceThresholds:
    """Contribution thresholds (currency amounts); a value equal to a threshold reaches it."""

    high_touch_clv: float = 1000.0
    standard_clv: float = 150.0
    high_touch_spend: float = 5000.0
    standard_spend: float = 500.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or not np.isfinite(value):
                raise InputError(f"service threshold {f.name} must be a finite number, got {value!r}")
        if self.high_touch_clv < self.standard_clv:
            raise InputError("service thresholds: high_touch_clv must be >= standard_clv")
        if self.high_touch_spend < self.standard_spend:
            raise InputError("service thresholds: high_touch_spend must be >= standard_spend")

    def as_dict(self) -> dict[str, float]:
        """Plain dict (for JSON output)."""
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_percentiles(
        cls,
        *,
        clv: Sequence[float] | None = None,
        spend: Sequence[float] | None = None,
        high_touch: float = 0.9,
        standard: float = 0.5,
    ) -> ServiceThresholds:
        """Thresholds at the given quantiles of observed CLV and/or spend values.

        ``high_touch=0.9`` makes the top 10 % high-touch; ``standard=0.5`` the next 40 %
        standard. A distribution that is not given keeps the default thresholds.
        """
        if not 0.0 <= standard <= high_touch <= 1.0:
            raise InputError("percentiles must satisfy 0 <= standard <= high_touch <= 1")
        base = cls()
        values = asdict(base)
        for name, data in (("clv", clv), ("spend", spend)):
            if data is None:
                continue
            arr = np.asarray(list(data), dtype=float)
            arr = arr[np.isfinite(arr)]
            if arr.size == 0:
                raise InputError(f"no finite {name} values to derive service thresholds from")
            values[f"high_touch_{name}"] = float(np.quantile(arr, high_touch))
            values[f"standard_{name}"] = float(np.quantile(arr, standard))
        return cls(**values)


def as_thresholds(value: ServiceThresholds | Mapping[str, Any] | None) -> ServiceThresholds:
    """Accept thresholds as the dataclass, a mapping of some of its fields, or None (defaults)."""
    if value is None:
        return ServiceThresholds()
    if isinstance(value, ServiceThresholds):
        return value
    if isinstance(value, Mapping):
        known = {f.name for f in fields(ServiceThresholds)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise InputError(f"unknown service threshold(s): {', '.join(unknown)}")
        try:
            return ServiceThresholds(**{k: float(v) for k, v in value.items()})
        except (TypeError, ValueError) as e:
            raise InputError(f"service thresholds: {e}") from e
    raise InputError(f"service thresholds must be a mapping, got {type(value).__name__}")


def _money(x: float) -> str:
    return f"{x:,.2f}"


def service_level(
    *,
    total_spend: float,
    clv: float | None = None,
    thresholds: ServiceThresholds | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Decide the service level; returns ``{level, basis, value, reason, thresholds}``.

    ``basis`` is ``"clv"`` when a fitted CLV is given (finite), else ``"total_spend"``.
    """
    th = as_thresholds(thresholds)
    if clv is not None and np.isfinite(clv):
        basis, value, high, std = "clv", float(clv), th.high_touch_clv, th.standard_clv
        label = "12-month CLV"
    else:
        basis, value, high, std = "total_spend", float(total_spend or 0.0), th.high_touch_spend, th.standard_spend
        label = "total spend (no CLV fitted)"
    if value >= high:
        level, reason = "high-touch", f"{label} {_money(value)} >= high-touch threshold {_money(high)}"
    elif value >= std:
        level, reason = "standard", f"{label} {_money(value)} >= standard threshold {_money(std)}"
    else:
        level, reason = "self-service", f"{label} {_money(value)} < standard threshold {_money(std)}"
    return {"level": level, "basis": basis, "value": value, "reason": reason, "thresholds": th.as_dict()}
