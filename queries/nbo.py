"""Next best offer and next best action for one customer (all accounts of the person).

Offers are open campaigns with an offered product, ranked by ``expected_acceptance``: the
acceptance rate of *similar* customers, smoothed toward the campaign's overall rate with an
m-estimate (see :func:`analytics.nbo_rules.smoothed_rate`). Similar customers are, in order
of preference: look-alike neighbours (``SIMILAR_TO``), else the person's segment members
(``IN_SEGMENT``), else customers who bought in the same categories. Offers the person already
answered (accepted/rejected touches) or whose product they own are skipped. The action comes
from the rules file (``analytics/nbo_rules.toml``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from analytics.nbo_rules import Facts, Rules, decide_action, load_rules, smoothed_rate
from graph.backend import GraphBackend
from graph.errors import InputError
from queries.recommend import purchase_history, recommend, resolve_customer

__all__ = [
    "NBO_PERSON",
    "NBO_ACCOUNT_STATE",
    "NBO_OPEN_TICKETS",
    "NBO_ANSWERED",
    "NBO_OPEN_CAMPAIGNS",
    "NBO_NEIGHBOURS",
    "NBO_SEGMENTS",
    "ACCEPTANCE",
    "next_best",
]

NBO_PERSON = """
MATCH (c:Customer {customer_id: $customer_id})
OPTIONAL MATCH (c)-[:BELONGS_TO]->(p:Person)
RETURN c.customer_id AS customer_id, p.person_id AS person_id, p.churn_risk AS churn_risk, p.clv AS clv
""".strip()

NBO_ACCOUNT_STATE = """
UNWIND $accounts AS aid
MATCH (c:Customer {customer_id: aid})
OPTIONAL MATCH (c)-[:MADE]->(t:Transaction)
WITH c, sum(t.amount) AS spend
OPTIONAL MATCH (c)-[:HAS_PREFERENCE]->(pref:Preference)
RETURN c.customer_id AS customer_id, c.churn_risk AS churn_risk, c.clv AS clv, spend,
       collect(pref {.key, .value}) AS prefs
ORDER BY customer_id
""".strip()
"""Per account: scores written by ``clv fit``, net spend and preferences."""

NBO_OPEN_TICKETS = """
UNWIND $accounts AS aid
MATCH (c:Customer {customer_id: aid})
WITH c
MATCH (c)-[:RAISED]->(t:Ticket)
WHERE t.status IN $open_statuses AND t.severity IN $severities
RETURN t.ticket_id AS ticket_id, t.severity AS severity, t.severity_rank AS severity_rank,
       t.topic AS topic, t.opened_at AS opened_at, c.customer_id AS customer_id
ORDER BY severity_rank DESC, opened_at, ticket_id
""".strip()
"""Unresolved tickets of blocking severity, most severe and oldest first."""

NBO_ANSWERED = """
UNWIND $accounts AS aid
MATCH (c:Customer {customer_id: aid})
WITH c
MATCH (c)-[:RECEIVED]->(t:Touch)-[:OF]->(cmp:Campaign)
WHERE t.response IN $answered
RETURN DISTINCT cmp.campaign_id AS campaign_id
""".strip()
"""Campaigns the person already accepted or rejected."""

NBO_OPEN_CAMPAIGNS = """
MATCH (cmp:Campaign)-[:OFFERS]->(p:Product)
WHERE (cmp.end_date IS NULL OR cmp.end_date >= $today)
  AND (cmp.start_date IS NULL OR cmp.start_date <= $now OR NOT $require_started)
OPTIONAL MATCH (cmp)-[:VIA]->(ch:Channel)
RETURN cmp.campaign_id AS campaign_id, cmp.name AS name, cmp.kind AS kind,
       p.product_id AS product_id, p.name AS product_name, p.category AS category,
       ch.channel_id AS channel_id
ORDER BY campaign_id
""".strip()
"""Campaigns with an offered product that are open at ``$now`` (ISO UTC text; dates compare as text)."""

NBO_NEIGHBOURS = """
UNWIND $accounts AS aid
MATCH (c:Customer {customer_id: aid})
WITH c
MATCH (c)-[s:SIMILAR_TO]->(o:Customer)
WHERE NOT o.customer_id IN $accounts
WITH o.customer_id AS neighbour, max(s.score) AS score
RETURN neighbour, score
ORDER BY score DESC, neighbour
LIMIT $limit
""".strip()

NBO_SEGMENTS = """
UNWIND $accounts AS aid
MATCH (c:Customer {customer_id: aid})
WITH c
MATCH (c)-[:IN_SEGMENT]->(s:Segment)
RETURN DISTINCT s.segment_id AS segment_id
ORDER BY segment_id
""".strip()

_ACCEPTANCE_HEAD = """
UNWIND $campaigns AS cid
MATCH (cmp:Campaign {campaign_id: cid})
WITH cmp
MATCH (cmp)<-[:OF]-(t:Touch)<-[:RECEIVED]-(o:Customer)
"""
_ACCEPTANCE_TAIL = """
RETURN cmp.campaign_id AS campaign_id, count(t) AS sent,
       sum(CASE WHEN t.response = $accepted THEN 1 ELSE 0 END) AS accepted,
       sum(CASE WHEN similar THEN 1 ELSE 0 END) AS similar_sent,
       sum(CASE WHEN similar AND t.response = $accepted THEN 1 ELSE 0 END) AS similar_accepted
"""
ACCEPTANCE: dict[str, str] = {
    "look-alike": (
        _ACCEPTANCE_HEAD
        + "WITH cmp, t, (o.customer_id IN $similar AND NOT o.customer_id IN $accounts) AS similar"
        + _ACCEPTANCE_TAIL
    ).strip(),
    "segment": (
        _ACCEPTANCE_HEAD
        + "WITH cmp, t, o, size([(o)-[:IN_SEGMENT]->(s:Segment) WHERE s.segment_id IN $segments | s.segment_id]) > 0 AS in_segment\n"
        + "WITH cmp, t, (in_segment AND NOT o.customer_id IN $accounts) AS similar"
        + _ACCEPTANCE_TAIL
    ).strip(),
    "category": (
        _ACCEPTANCE_HEAD
        + "WITH cmp, t, o, size([(o)-[:MADE]->(:Transaction)-[:FOR]->(p:Product) WHERE p.category IN $categories | p.product_id]) > 0 AS same_taste\n"
        + "WITH cmp, t, (same_taste AND NOT o.customer_id IN $accounts) AS similar"
        + _ACCEPTANCE_TAIL
    ).strip(),
}
"""Per campaign: touches and acceptances overall and among similar customers (one statement per basis)."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _truthy(value: Any, true_values: list[str]) -> bool:
    return str(value).strip().lower() in {str(v).lower() for v in true_values}


def _max(values: list[Any]) -> float | None:
    nums = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return max(nums) if nums else None


def _facts(graph: GraphBackend, customer_id: str, accounts: list[str], rules: Rules) -> tuple[Facts, dict[str, Any]]:
    person = graph.read(NBO_PERSON, {"customer_id": customer_id})[0]
    states = graph.read(NBO_ACCOUNT_STATE, {"accounts": accounts})
    prefs: dict[str, dict[str, Any]] = {
        s["customer_id"]: {p["key"]: p["value"] for p in (s["prefs"] or []) if p and p.get("key") is not None} for s in states
    }
    opt_key = rules.opt_out["preference_key"]
    opted_out = any(_truthy(p.get(opt_key), rules.opt_out["true_values"]) for p in prefs.values() if opt_key in p)
    ch_key = rules.offers["contact_preference_key"]
    channel = prefs.get(customer_id, {}).get(ch_key)
    if channel is None:
        channel = next((prefs[a][ch_key] for a in accounts if ch_key in prefs.get(a, {})), None)
    churn = _max([person.get("churn_risk"), *(s.get("churn_risk") for s in states)])
    clvs = [s["clv"] for s in states if isinstance(s.get("clv"), (int, float))]
    if clvs:
        contribution: float | None = float(sum(clvs))
    elif isinstance(person.get("clv"), (int, float)):
        contribution = float(person["clv"])
    else:
        contribution = float(sum(float(s.get("spend") or 0.0) for s in states))
    tickets = graph.read(
        NBO_OPEN_TICKETS,
        {"accounts": accounts, "open_statuses": list(rules.tickets["open_statuses"]),
         "severities": list(rules.tickets["blocking_severities"])},
    )
    facts = Facts(open_tickets=tickets, opted_out=opted_out, churn_risk=churn, contribution=contribution, channel=channel)
    return facts, {"person_id": person.get("person_id")}


def _similar_basis(graph: GraphBackend, accounts: list[str], categories: list[str], rules: Rules) -> tuple[str, dict[str, Any], str]:
    neighbours = graph.read(NBO_NEIGHBOURS, {"accounts": accounts, "limit": int(rules.offers["max_neighbours"])})
    if neighbours:
        ids = [n["neighbour"] for n in neighbours]
        return "look-alike", {"similar": ids}, f"similar customers: {len(ids)} look-alike neighbours"
    segments = [r["segment_id"] for r in graph.read(NBO_SEGMENTS, {"accounts": accounts})]
    if segments:
        return "segment", {"segments": segments}, f"similar customers: members of segment {', '.join(segments)}"
    return "category", {"categories": categories}, (
        f"similar customers: buyers in {', '.join(categories)}" if categories else "similar customers: none (no purchases)"
    )


def next_best(
    graph: GraphBackend,
    customer_id: str,
    *,
    k: int = 5,
    rules: Rules | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Next best action and the top ``k`` offers for the customer's person.

    Returns
    -------
    dict with ``customer_id``, ``person_id``, ``accounts``, ``action`` (``{action, text,
    channel, ...}``), ``offers`` (best first: ``{offer_id, kind, name, campaign_kind,
    product_id, product_name, category, channel, expected_acceptance, similar_accepted,
    similar_sent, reasons}``), ``suppressed_reason`` (why no offers, else ``None``),
    ``similar_basis`` and ``reasons``.
    """
    if not 1 <= int(k) <= 100:
        raise InputError("k must be between 1 and 100")
    rules = rules or load_rules()
    moment = now or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    customer_id, accounts = resolve_customer(graph, str(customer_id))
    facts, extra = _facts(graph, customer_id, accounts, rules)
    action, suppressed = decide_action(facts, rules)
    result: dict[str, Any] = {
        "customer_id": customer_id,
        "person_id": extra["person_id"],
        "accounts": accounts,
        "action": action,
        "offers": [],
        "suppressed_reason": suppressed,
        "similar_basis": None,
        "reasons": [],
    }
    reasons = result["reasons"]
    if facts.churn_risk is not None:
        reasons.append(f"churn risk {facts.churn_risk:.2f} (threshold {float(rules.churn['threshold']):.2f})")
    if facts.contribution is not None:
        reasons.append(f"contribution {facts.contribution:,.2f}")
    if suppressed:
        reasons.append(suppressed)
        return result

    history = purchase_history(graph, accounts)
    owned = {h["product_id"] for h in history}
    categories = sorted({h["category"] for h in history if h.get("category")})
    answered = {r["campaign_id"] for r in graph.read(
        NBO_ANSWERED, {"accounts": accounts, "answered": list(rules.offers["answered_responses"])})}
    today = moment.strftime("%Y-%m-%dT00:00:00Z")
    campaigns = graph.read(
        NBO_OPEN_CAMPAIGNS, {"today": today, "now": _iso(moment), "require_started": bool(rules.offers["require_started"])}
    )
    candidates = [c for c in campaigns if c["campaign_id"] not in answered and c["product_id"] not in owned]
    skipped = len(campaigns) - len(candidates)
    if skipped:
        reasons.append(f"{skipped} open campaign(s) skipped: already answered or product owned")
    offers: list[dict[str, Any]] = []
    if candidates:
        basis, basis_params, basis_reason = _similar_basis(graph, accounts, categories, rules)
        result["similar_basis"] = basis
        reasons.append(basis_reason)
        params = {"campaigns": [c["campaign_id"] for c in candidates], "accounts": accounts, "accepted": "accepted",
                  "similar": [], "segments": [], "categories": [], **basis_params}
        stats = {r["campaign_id"]: r for r in graph.read(ACCEPTANCE[basis], params)}
        total_sent = sum(int(r["sent"] or 0) for r in stats.values())
        total_acc = sum(int(r["accepted"] or 0) for r in stats.values())
        m = float(rules.offers["prior_weight"])
        overall = total_acc / total_sent if total_sent else float(rules.offers["default_rate"])
        boost = set(rules.churn["boost_kinds"]) if action["action"] == rules.churn["action"] else set()
        for c in candidates:
            raw = stats.get(c["campaign_id"], {})
            s = {key: int(raw.get(key) or 0) for key in ("sent", "accepted", "similar_sent", "similar_accepted")}
            prior = smoothed_rate(s["accepted"], s["sent"], overall, m)
            expected = smoothed_rate(s["similar_accepted"], s["similar_sent"], prior, m)
            offer_reasons = [
                f"{s['similar_accepted']} of {s['similar_sent']} similar customers accepted",
                f"campaign overall {s['accepted']} of {s['sent']}",
            ]
            if c.get("kind") in boost:
                offer_reasons.append(f"{c['kind']} campaign ranked first: churn risk")
            offers.append(
                {
                    "offer_id": c["campaign_id"],
                    "kind": "campaign",
                    "name": c["name"],
                    "campaign_kind": c.get("kind"),
                    "product_id": c["product_id"],
                    "product_name": c["product_name"],
                    "category": c["category"],
                    "channel": facts.channel or c.get("channel_id"),
                    "expected_acceptance": round(expected, 12),
                    "similar_accepted": int(s["similar_accepted"]),
                    "similar_sent": int(s["similar_sent"]),
                    "reasons": offer_reasons,
                    "_boost": c.get("kind") in boost,
                }
            )
        offers.sort(key=lambda o: (not o["_boost"], -o["expected_acceptance"], o["offer_id"]))
        for o in offers:
            del o["_boost"]
    offers = offers[: int(k)]
    if len(offers) < int(k) and rules.offers["fill_with_recommendations"]:
        taken = {o["product_id"] for o in offers}
        for item in recommend(graph, customer_id, k=int(k) + len(taken)):
            if len(offers) >= int(k):
                break
            if item["product_id"] in taken:
                continue
            offers.append(
                {
                    "offer_id": item["product_id"],
                    "kind": "product",
                    "name": item["name"],
                    "campaign_kind": None,
                    "product_id": item["product_id"],
                    "product_name": item["name"],
                    "category": item["category"],
                    "channel": facts.channel,
                    "expected_acceptance": None,
                    "similar_accepted": None,
                    "similar_sent": None,
                    "reasons": [f"recommended ({item['source']}): {', '.join(map(str, item['reasons']))}"],
                }
            )
    result["offers"] = offers
    if not offers:
        reasons.append("no open campaign or recommendation left to offer")
    return result
