"""Next-best-action rules: read the editable TOML file and decide, from plain facts, what to do.

Pure functions: the facts (open tickets, opt-out, churn risk, contribution) are gathered by
``queries.nbo``; nothing here knows about the database. The rules file is
``analytics/nbo_rules.toml`` unless ``C360_NBO_RULES`` points at another copy.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.errors import ConfigError

__all__ = [
    "DEFAULT_RULES_PATH",
    "RULES_ENV",
    "Facts",
    "Rules",
    "load_rules",
    "decide_action",
    "smoothed_rate",
]

DEFAULT_RULES_PATH = Path(__file__).with_name("nbo_rules.toml")
RULES_ENV = "C360_NBO_RULES"

_REQUIRED: dict[str, tuple[str, ...]] = {
    "tickets": ("blocking_severities", "open_statuses", "action", "text"),
    "opt_out": ("preference_key", "true_values", "action", "text"),
    "churn": ("threshold", "action", "text", "boost_kinds"),
    "value": (
        "high_threshold", "high_action", "high_text", "low_threshold", "low_action", "low_text",
        "default_action", "default_text",
    ),
    "offers": (
        "prior_weight", "default_rate", "contact_preference_key", "answered_responses", "max_neighbours",
        "require_started", "fill_with_recommendations",
    ),
}


@dataclass(frozen=True)
class Rules:
    """The parsed rules file: one mapping per section (see ``nbo_rules.toml`` for the keys)."""

    tickets: Mapping[str, Any]
    opt_out: Mapping[str, Any]
    churn: Mapping[str, Any]
    value: Mapping[str, Any]
    offers: Mapping[str, Any]
    source: str = "built-in"


@dataclass
class Facts:
    """What is known about one person when the action is chosen."""

    open_tickets: Sequence[Mapping[str, Any]] = field(default_factory=list)
    """Unresolved blocking tickets, most severe first (ticket_id, severity, topic)."""
    opted_out: bool = False
    churn_risk: float | None = None
    contribution: float | None = None
    channel: str | None = None


def load_rules(path: str | Path | None = None) -> Rules:
    """Read and check the rules file (``path``, else ``$C360_NBO_RULES``, else the bundled one).

    Raises ConfigError naming the file and the missing or wrong key.
    """
    chosen = Path(path or os.environ.get(RULES_ENV) or DEFAULT_RULES_PATH)
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"next-best-action rules file not found: {chosen}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{chosen}: not valid TOML: {e}") from e
    for section, keys in _REQUIRED.items():
        if not isinstance(data.get(section), dict):
            raise ConfigError(f"{chosen}: missing section [{section}]")
        missing = [k for k in keys if k not in data[section]]
        if missing:
            raise ConfigError(f"{chosen}: [{section}] lacks {', '.join(missing)}")
    for section, key in [("churn", "threshold"), ("value", "high_threshold"), ("value", "low_threshold"),
                         ("offers", "prior_weight"), ("offers", "default_rate")]:
        value = data[section][key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"{chosen}: [{section}] {key} must be a number >= 0")
    if data["value"]["low_threshold"] > data["value"]["high_threshold"]:
        raise ConfigError(f"{chosen}: [value] low_threshold is above high_threshold")
    return Rules(**{s: dict(data[s]) for s in _REQUIRED}, source=str(chosen))


def _fmt(text: str, **values: Any) -> str:
    try:
        return text.format(**values)
    except (KeyError, ValueError, IndexError, TypeError):
        return text


def decide_action(facts: Facts, rules: Rules) -> tuple[dict[str, Any], str | None]:
    """The next best action and, when promotions must not be shown, why (else ``None``).

    Order: blocking open ticket > marketing opt-out > churn risk >= threshold > high
    contributor > low contributor > default (present the top offer).
    """
    base = {"channel": facts.channel}
    if facts.open_tickets:
        t = facts.open_tickets[0]
        r = rules.tickets
        text = _fmt(r["text"], ticket_id=t.get("ticket_id"), severity=t.get("severity"), topic=t.get("topic") or "no topic",
                    count=len(facts.open_tickets))
        action = {"action": r["action"], "text": text, **base, "ticket_id": t.get("ticket_id")}
        ids = ", ".join(str(x.get("ticket_id")) for x in facts.open_tickets)
        return action, f"open {t.get('severity')} ticket(s) {ids}: no promotions until resolved"
    if facts.opted_out:
        r = rules.opt_out
        return {"action": r["action"], "text": r["text"], **base}, "customer opted out of marketing"
    churn = facts.churn_risk
    if churn is not None and churn >= float(rules.churn["threshold"]):
        r = rules.churn
        return {"action": r["action"], "text": _fmt(r["text"], churn_risk=churn), **base}, None
    value = rules.value
    contribution = facts.contribution
    if contribution is not None and contribution >= float(value["high_threshold"]):
        return {"action": value["high_action"], "text": _fmt(value["high_text"], contribution=contribution), **base}, None
    if contribution is not None and contribution < float(value["low_threshold"]):
        return {"action": value["low_action"], "text": _fmt(value["low_text"], contribution=contribution), **base}, None
    return {"action": value["default_action"], "text": value["default_text"], **base}, None


def smoothed_rate(successes: float, trials: float, prior: float, weight: float) -> float:
    """The m-estimate ``(successes + weight * prior) / (trials + weight)``.

    A Beta(weight * prior, weight * (1 - prior)) prior's posterior mean: few trials stay near
    ``prior``, many trials approach ``successes / trials``.

    >>> smoothed_rate(0, 0, 0.1, 10)
    0.1
    >>> smoothed_rate(5, 10, 0.1, 10)
    0.3
    """
    if trials + weight <= 0:
        return float(prior)
    return (float(successes) + weight * prior) / (float(trials) + weight)
