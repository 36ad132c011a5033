"""The 360 view of one customer: past, present and future of the whole resolved person.

:func:`customer_360` takes any source account id (``crm-000042``) or a person id
(``p-crm-000042``), finds every account linked to the same Person, and reads that person's
purchases, holdings, product views, campaign touches, tickets, interactions on every channel,
preferences and influence edges, plus the scores written by ``c360 clv fit``. It sends a
fixed, small number of statements (eight), each starting from indexed key lookups
(``Customer.customer_id`` / ``Person.person_id``) and walking out along the event edges: no
label scan. The JSON shape is documented in ``docs/view.md``; apps rely on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from analytics.service_level import ServiceThresholds, as_thresholds, service_level
from graph.backend import GraphBackend
from graph.errors import InputError, NotFoundError

__all__ = [
    "ACCOUNTS_BY_CUSTOMER",
    "ACCOUNTS_BY_PERSON",
    "VIEW_TRANSACTIONS",
    "VIEW_HOLDINGS",
    "VIEW_INTERACTIONS",
    "VIEW_CHANNEL_COUNTS",
    "VIEW_TOUCHES",
    "VIEW_TICKETS",
    "VIEW_INFLUENCE",
    "INFLUENCE_KINDS",
    "SCORE_FIELDS",
    "customer_360",
]

INFLUENCE_KINDS: dict[str, str] = {
    "REFERRED": "referral",
    "FOLLOWS": "social_follow",
    "HOUSEHOLD": "household",
    "MENTIONED": "mention",
}
"""Influence relationship type -> referral kind of the data contract (fixed list)."""

SCORE_FIELDS = ("clv", "p_alive", "churn_risk", "expected_purchases", "expected_aov")
"""Future scores written by ``c360 clv fit`` onto Person and Customer nodes."""

_ACCOUNT_RETURN = """
RETURN p.person_id AS person_id, properties(p) AS person,
       a.customer_id AS customer_id, properties(a) AS props,
       b.rules AS rules, b.matched_with AS matched_with,
       [(a)-[:HAS_PREFERENCE]->(f:Preference) | {key: f.key, value: f.value}] AS preferences
ORDER BY customer_id"""

ACCOUNTS_BY_CUSTOMER = (
    """MATCH (c0:Customer {customer_id: $id})
OPTIONAL MATCH (c0)-[:BELONGS_TO]->(p:Person)
OPTIONAL MATCH (p)<-[b:BELONGS_TO]-(c:Customer)
WITH p, b, coalesce(c, c0) AS a"""
    + _ACCOUNT_RETURN
)
"""Every account of the person that ``$id`` (a customer id) belongs to; just it when unlinked."""

ACCOUNTS_BY_PERSON = (
    """MATCH (p:Person {person_id: $id})<-[b:BELONGS_TO]-(a:Customer)
WITH p, b, a"""
    + _ACCOUNT_RETURN
)
"""Every account linked to the person ``$id``."""

VIEW_TRANSACTIONS = """UNWIND $ids AS cid
MATCH (:Customer {customer_id: cid})-[:MADE]->(t:Transaction)
OPTIONAL MATCH (t)-[:FOR]->(p:Product)
WITH cid, t, p ORDER BY t.ts DESC, t.transaction_id DESC
RETURN count(t) AS lines,
       sum(t.amount) AS total_spend,
       count(DISTINCT coalesce(t.order_id, 'line:' + t.transaction_id)) AS orders,
       sum(CASE WHEN t.amount < 0 THEN 1 ELSE 0 END) AS refund_lines,
       sum(CASE WHEN t.amount < 0 THEN t.amount ELSE 0.0 END) AS refunded,
       min(CASE WHEN t.amount >= 0 THEN t.ts END) AS first_ts,
       max(CASE WHEN t.amount >= 0 THEN t.ts END) AS last_ts,
       collect({transaction_id: t.transaction_id, order_id: t.order_id, occurred_at: t.occurred_at,
                amount: t.amount, quantity: t.quantity, customer_id: cid, channel_id: t.channel_id,
                product_id: p.product_id, product: p.name, kind: p.kind, category: p.category})[0..$limit] AS recent"""
"""Spend, orders, first/last purchase and the newest ``$limit`` purchase lines of accounts ``$ids``."""

VIEW_HOLDINGS = """UNWIND $ids AS cid
MATCH (:Customer {customer_id: cid})-[:MADE]->(t:Transaction)-[f:FOR]->(p:Product)
RETURN p.product_id AS product_id, p.name AS name, p.kind AS kind, p.category AS category,
       sum(CASE WHEN t.amount >= 0 THEN 1 ELSE 0 END) AS purchases,
       sum(CASE WHEN t.amount < 0 THEN 1 ELSE 0 END) AS refunds,
       sum(CASE WHEN t.amount >= 0 THEN coalesce(t.quantity, 1) ELSE 0 END) AS quantity,
       sum(t.amount) AS spend,
       max(CASE WHEN t.amount >= 0 THEN t.ts END) AS last_ts
ORDER BY last_ts DESC, product_id"""
"""Per product the accounts ``$ids`` bought: purchase lines, refunds, units, net spend, last date."""

VIEW_INTERACTIONS = """UNWIND $ids AS cid
MATCH (:Customer {customer_id: cid})-[:HAD]->(i:Interaction)
OPTIONAL MATCH (i)-[:VIA]->(ch:Channel)
OPTIONAL MATCH (i)-[:ABOUT]->(p:Product)
WITH cid, i, ch, p ORDER BY i.ts DESC, i.interaction_id DESC
WITH collect({interaction_id: i.interaction_id, occurred_at: i.occurred_at, kind: i.kind, reason: i.reason,
              channel_id: ch.channel_id, channel: ch.name, channel_kind: ch.kind, sentiment: i.sentiment,
              text: i.text, customer_id: cid, product_id: p.product_id, product: p.name,
              category: p.category, campaign_id: i.campaign_id, ticket_id: i.ticket_id}) AS rows
RETURN size(rows) AS total, rows[0..$limit] AS timeline,
       [r IN rows WHERE r.kind = 'product_view'][0..$limit] AS views,
       size([r IN rows WHERE r.kind = 'product_view']) AS view_total"""
"""The newest ``$limit`` interactions on every channel, and the newest product views."""

VIEW_CHANNEL_COUNTS = """UNWIND $ids AS cid
MATCH (:Customer {customer_id: cid})-[:HAD]->(i:Interaction)-[v:VIA]->(ch:Channel)
RETURN ch.channel_id AS channel_id, ch.name AS name, ch.kind AS kind, count(i) AS interactions
ORDER BY interactions DESC, channel_id"""
"""How many interactions the accounts ``$ids`` had on each channel (all of them, not the timeline)."""

VIEW_TOUCHES = """UNWIND $ids AS cid
MATCH (:Customer {customer_id: cid})-[:RECEIVED]->(t:Touch)
OPTIONAL MATCH (t)-[:OF]->(cp:Campaign)
OPTIONAL MATCH (t)-[:VIA]->(ch:Channel)
WITH cid, t, cp, ch ORDER BY t.sent_ts DESC, t.touch_id DESC
WITH collect({touch_id: t.touch_id, campaign_id: cp.campaign_id, campaign: cp.name, kind: cp.kind,
              channel_id: ch.channel_id, channel: ch.name, sent_at: t.sent_at,
              response: t.response, responded_at: t.responded_at, customer_id: cid}) AS rows
RETURN size(rows) AS total, rows[0..$limit] AS recent, [r IN rows | r.response] AS responses"""
"""The newest ``$limit`` campaign touches with their response, and every response (for counts)."""

VIEW_TICKETS = """UNWIND $ids AS cid
MATCH (:Customer {customer_id: cid})-[:RAISED]->(k:Ticket)
OPTIONAL MATCH (k)-[:ABOUT]->(p:Product)
OPTIONAL MATCH (k)-[:VIA]->(ch:Channel)
WITH cid, k, p, ch ORDER BY k.opened_ts DESC, k.ticket_id DESC
WITH collect({ticket_id: k.ticket_id, opened_at: k.opened_at, opened_ts: k.opened_ts, closed_at: k.closed_at,
              severity: k.severity, severity_rank: k.severity_rank, status: k.status, topic: k.topic,
              satisfaction: k.satisfaction, channel_id: ch.channel_id, channel: ch.name,
              product_id: p.product_id, product: p.name, customer_id: cid}) AS rows
RETURN size(rows) AS total, rows[0..$limit] AS recent,
       [r IN rows WHERE r.status IN ['open', 'pending']] AS open"""
"""Service history (newest ``$limit`` tickets) and every open or pending ticket."""

_INFLUENCE_FIELDS = """OPTIONAL MATCH (o)-[:BELONGS_TO]->(q:Person)
RETURN {direction} AS direction, cid AS via_account, type(r) AS type, r.kind AS kind,
       o.customer_id AS customer_id, o.name AS name, q.person_id AS person_id, r.occurred_at AS occurred_at"""

VIEW_INFLUENCE = (
    """UNWIND $ids AS cid
MATCH (:Customer {customer_id: cid})-[r:REFERRED|FOLLOWS|HOUSEHOLD|MENTIONED]->(o:Customer)
"""
    + _INFLUENCE_FIELDS.format(direction="'out'")
    + """
UNION ALL
UNWIND $ids AS cid
MATCH (:Customer {customer_id: cid})<-[r:REFERRED|FOLLOWS|HOUSEHOLD|MENTIONED]-(o:Customer)
"""
    + _INFLUENCE_FIELDS.format(direction="'in'")
)
"""Influence edges of accounts ``$ids``: whom they influence (``out``) and who influenced them (``in``)."""

_PROFILE_FIELDS = ("name", "email", "phone", "city", "country", "birth_date", "loyalty_id")
_RFM_FIELDS = {"rfm_r": "R", "rfm_f": "F", "rfm_m": "M", "rfm": "rfm", "rfm_segment": "segment"}


def _iso(ts: Any) -> str | None:
    """Epoch seconds -> the loader's ISO UTC text (``2024-03-01T09:30:00Z``)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_ts(now: Any) -> float:
    if now is None:
        return datetime.now(tz=UTC).timestamp()
    if isinstance(now, (int, float)):
        return float(now)
    if isinstance(now, str):
        try:
            now = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError as e:
            raise InputError(f"now: not an ISO date-time: {now!r}") from e
    if isinstance(now, datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now.timestamp()
    raise InputError(f"now: expected a datetime, ISO text or epoch seconds, got {type(now).__name__}")


def _resolve(graph: GraphBackend, customer_id: str) -> list[dict[str, Any]]:
    """Rows of ACCOUNTS_* for the id (a person id is tried first when it looks like one)."""
    if not isinstance(customer_id, str) or not customer_id.strip():
        raise InputError("customer id must be a non-empty string")
    key = customer_id.strip()
    order = (ACCOUNTS_BY_PERSON, ACCOUNTS_BY_CUSTOMER) if key.startswith("p-") else (ACCOUNTS_BY_CUSTOMER,)
    for query in order:
        rows = graph.read(query, {"id": key})
        if rows:
            return rows
    raise NotFoundError(f"no customer or person with id {key!r}")


def _first(values: list[Any]) -> Any:
    return next((v for v in values if v not in (None, "")), None)


def _influence(edges: list[dict[str, Any]], own: set[str], own_person: str | None) -> list[dict[str, Any]]:
    """Influence edges to other people (edges between the person's own accounts are left out)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for e in edges:
        other_person = e.get("person_id")
        if e["customer_id"] in own or (own_person is not None and other_person == own_person):
            continue
        item = {
            "kind": e.get("kind") or INFLUENCE_KINDS.get(e["type"], e["type"].lower()),
            "customer_id": e["customer_id"],
            "person_id": other_person,
            "name": e.get("name"),
            "occurred_at": e.get("occurred_at"),
            "via_account": e["via_account"],
        }
        out[(item["kind"], item["customer_id"])] = item
    return sorted(out.values(), key=lambda x: (x["kind"], x["customer_id"]))


def _scores(person: Mapping[str, Any] | None, props: Mapping[str, Any]) -> Mapping[str, Any]:
    """Scores live on the Person (and every linked Customer); an unlinked account has its own."""
    if person and person.get("clv") is not None:
        return person
    return props


def _rfm(src: Mapping[str, Any]) -> dict[str, Any] | None:
    if src.get("rfm") is None:
        return None
    return {out: src.get(prop) for prop, out in _RFM_FIELDS.items()}


def _open_ticket_order(t: Mapping[str, Any]) -> tuple[int, int, str]:
    return (-(t.get("severity_rank") or 0), t.get("opened_ts") or 0, t.get("ticket_id") or "")


def customer_360(
    graph: GraphBackend,
    customer_id: str,
    *,
    limit: int = 10,
    channel: str | None = None,
    reason: str | None = None,
    service_thresholds: ServiceThresholds | Mapping[str, Any] | None = None,
    now: Any = None,
    next_best: bool = False,
) -> dict[str, Any]:
    """Past, present and future of the person behind ``customer_id`` as one JSON-ready dict.

    Parameters
    ----------
    graph : GraphBackend
        Any backend (FalkorDB or Neo4j).
    customer_id : str
        A source account id or a person id (``p-...``). Raises
        :class:`graph.errors.NotFoundError` when neither exists.
    limit : int
        Length of each "recent" list (purchases, views, campaigns, service history, timeline).
    channel, reason : str, optional
        The channel and reason of the contact in progress (e.g. the call being answered);
        when neither is given, the latest recorded interaction stands in.
    service_thresholds : ServiceThresholds or mapping, optional
        Overrides of the service-level thresholds (see ``analytics.service_level``).
    now : datetime, ISO text or epoch seconds, optional
        Reference time for ages (days since last purchase, open ticket age); default now.

    Returns
    -------
    dict with ``customer_id, person_id, accounts, past, present, future`` (``docs/view.md``).
    """
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InputError("limit must be a positive integer")
    thresholds = as_thresholds(service_thresholds)
    now_ts = _now_ts(now)
    acc_rows = _resolve(graph, customer_id)
    ids = [r["customer_id"] for r in acc_rows]
    own = set(ids)
    person_id = acc_rows[0]["person_id"]
    person = acc_rows[0]["person"]
    requested = customer_id.strip()
    # the requested account first, then the others in id order (profile and preference precedence)
    ordered = sorted(acc_rows, key=lambda r: (r["customer_id"] != requested, r["customer_id"]))

    params = {"ids": ids, "limit": limit}
    tx = graph.read(VIEW_TRANSACTIONS, params)[0]
    holdings = graph.read(VIEW_HOLDINGS, {"ids": ids})
    inter = graph.read(VIEW_INTERACTIONS, params)[0]
    channels = graph.read(VIEW_CHANNEL_COUNTS, {"ids": ids})
    touches = graph.read(VIEW_TOUCHES, params)[0]
    tickets = graph.read(VIEW_TICKETS, params)[0]
    influence = graph.read(VIEW_INFLUENCE, {"ids": ids})

    accounts = [
        {
            "customer_id": r["customer_id"],
            "source": r["props"].get("source"),
            "name": r["props"].get("name"),
            "email": r["props"].get("email"),
            "rules": list(r["rules"]) if isinstance(r["rules"], list) else ([r["rules"]] if r["rules"] else []),
            "matched_with": r["matched_with"],
        }
        for r in acc_rows
    ]

    preferences: dict[str, Any] = {}
    for r in ordered:
        for pref in sorted(r["preferences"], key=lambda p: str(p["key"])):
            preferences.setdefault(pref["key"], pref["value"])

    out_edges = [e for e in influence if e["direction"] == "out"]
    in_edges = [e for e in influence if e["direction"] == "in"]

    holdings_out = [
        {
            "product_id": h["product_id"], "name": h["name"], "kind": h["kind"], "category": h["category"],
            "purchases": int(h["purchases"]), "refunds": int(h["refunds"]), "quantity": int(h["quantity"]),
            "spend": float(h["spend"]), "last_purchase": _iso(h["last_ts"]),
        }
        for h in holdings
    ]

    channel_counts = [
        {"channel_id": c["channel_id"], "name": c["name"], "kind": c["kind"], "interactions": int(c["interactions"])}
        for c in channels
    ]

    open_tickets = sorted(tickets["open"], key=_open_ticket_order)
    for t in open_tickets:
        t["age_days"] = round((now_ts - t["opened_ts"]) / 86400.0, 1) if t.get("opened_ts") is not None else None
    for t in [*open_tickets, *tickets["recent"]]:
        t.pop("opened_ts", None)
        t.pop("severity_rank", None)

    props_list = [r["props"] for r in ordered]
    profile = {f: _first([p.get(f) for p in props_list]) for f in _PROFILE_FIELDS}
    signups = sorted(p["signup_date"] for p in props_list if p.get("signup_date"))
    profile["signup_date"] = signups[0] if signups else None
    profile["sources"] = sorted({p.get("source") for p in props_list if p.get("source")})
    profile["customer_ids"] = sorted(own)

    total_spend = float(tx["total_spend"] or 0.0)
    orders = int(tx["orders"])
    scores = _scores(person, ordered[0]["props"])
    clv = scores.get("clv")

    if channel is not None or reason is not None:
        current = {"channel": channel, "reason": reason, "source": "caller", "occurred_at": None}
    elif inter["timeline"]:
        last = inter["timeline"][0]
        current = {
            "channel": last["channel_id"], "reason": last["reason"], "source": "latest_interaction",
            "occurred_at": last["occurred_at"], "kind": last["kind"], "interaction_id": last["interaction_id"],
        }
    else:
        current = {"channel": None, "reason": None, "source": None, "occurred_at": None}

    last_ts = tx["last_ts"]
    present = {
        "profile": profile,
        "total_spend": round(total_spend, 2),
        "order_count": orders,
        "line_count": int(tx["lines"]),
        "refund_lines": int(tx["refund_lines"]),
        "refunded": round(abs(float(tx["refunded"] or 0.0)), 2),
        "average_order": round(total_spend / orders, 2) if orders else None,
        "first_purchase": _iso(tx["first_ts"]),
        "last_purchase": _iso(last_ts),
        "days_since_last_purchase": round((now_ts - last_ts) / 86400.0, 1) if last_ts is not None else None,
        "rfm": _rfm(scores),
        "open_tickets": open_tickets,
        "current_interaction": current,
        "service_level": service_level(total_spend=total_spend, clv=clv, thresholds=thresholds),
    }

    past = {
        "purchases": tx["recent"],
        "holdings": holdings_out,
        "product_views": inter["views"],
        "campaigns": touches["recent"],
        "campaign_responses": dict(sorted(Counter(r or "none" for r in touches["responses"]).items())),
        "service_history": tickets["recent"],
        "timeline": inter["timeline"],
        "channel_counts": channel_counts,
        "preferences": preferences,
        "influence": {
            "influences": _influence(out_edges, own, person_id),
            "influenced_by": _influence(in_edges, own, person_id),
        },
        "totals": {
            "purchase_lines": int(tx["lines"]),
            "product_views": int(inter["view_total"]),
            "campaign_touches": int(touches["total"]),
            "tickets": int(tickets["total"]),
            "interactions": int(inter["total"]),
        },
    }

    future = {f: scores.get(f) for f in SCORE_FIELDS}
    future["scored_at"] = scores.get("scored_at")
    # Up-sell / cross-sell and next best offer/action cost two more queries: on request only.
    future["recommendations"] = None
    future["next_best"] = None
    if next_best:
        from queries.nbo import next_best as nbo
        from queries.recommend import recommend

        future["recommendations"] = recommend(graph, requested, k=5)
        future["next_best"] = nbo(graph, requested, k=3, now=None if now is None else datetime.fromtimestamp(now_ts, tz=UTC))

    return {
        "customer_id": requested,
        "person_id": person_id,
        "accounts": accounts,
        "past": past,
        "present": present,
        "future": future,
    }
