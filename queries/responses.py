"""Record a customer's answer to an offer as a campaign Touch, so the next ranking reflects it.

The touch is a node like the loaded ones (``Customer-RECEIVED->Touch-OF->Campaign``, optionally
``-VIA->Channel``) with ``sent_at`` = ``responded_at`` = the answer time: the answered offer
drops out of that person's offers, and the campaign's acceptance rates change for everyone else.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from graph.backend import GraphBackend
from graph.errors import GraphError, InputError, NotFoundError
from queries.recommend import resolve_customer

__all__ = ["RESPONSES", "RESPONSE_CHECK", "RESPONSE_CREATE", "RESPONSE_CREATE_VIA", "record_response"]

RESPONSES = ("accepted", "rejected")

RESPONSE_CHECK = """
OPTIONAL MATCH (c:Customer {customer_id: $customer_id})
OPTIONAL MATCH (cmp:Campaign {campaign_id: $campaign_id})
OPTIONAL MATCH (ch:Channel {channel_id: $channel_id})
RETURN c.customer_id AS customer_id, cmp.campaign_id AS campaign_id, ch.channel_id AS channel_id
""".strip()

RESPONSE_CREATE = """
MATCH (c:Customer {customer_id: $customer_id})
MATCH (cmp:Campaign {campaign_id: $campaign_id})
CREATE (c)-[:RECEIVED]->(t:Touch {touch_id: $touch_id})-[:OF]->(cmp)
SET t += $props
RETURN t.touch_id AS touch_id
""".strip()

RESPONSE_CREATE_VIA = """
MATCH (c:Customer {customer_id: $customer_id})
MATCH (cmp:Campaign {campaign_id: $campaign_id})
MATCH (ch:Channel {channel_id: $channel_id})
CREATE (c)-[:RECEIVED]->(t:Touch {touch_id: $touch_id})-[:OF]->(cmp)
CREATE (t)-[:VIA]->(ch)
SET t += $props
RETURN t.touch_id AS touch_id
""".strip()


def record_response(
    graph: GraphBackend,
    customer_id: str,
    offer_id: str,
    response: str,
    *,
    channel: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Store ``response`` ("accepted" or "rejected") of ``customer_id`` to campaign ``offer_id``.

    Returns the new touch as a dict (touch_id, customer_id, campaign_id, response,
    responded_at, channel_id). Raises NotFoundError for an unknown customer, offer or
    channel, InputError for any other response.
    """
    response = str(response).strip().lower()
    if response not in RESPONSES:
        raise InputError(f"response must be one of {', '.join(RESPONSES)}, not {response!r}")
    customer_id, offer_id = str(customer_id), str(offer_id)
    customer_id = resolve_customer(graph, customer_id)[0]  # a person id becomes its first account
    found = graph.read(RESPONSE_CHECK, {"customer_id": customer_id, "campaign_id": offer_id, "channel_id": channel or ""})
    row = found[0] if found else {}
    if row.get("customer_id") is None:
        raise NotFoundError(f"no customer with id {customer_id!r}")
    if row.get("campaign_id") is None:
        raise NotFoundError(f"no offer (campaign) with id {offer_id!r}")
    if channel and row.get("channel_id") is None:
        raise NotFoundError(f"no channel with id {channel!r}")
    moment = at or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    iso = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ts = int(moment.timestamp())
    touch_id = f"resp-{uuid.uuid4().hex}"
    props: dict[str, Any] = {
        "customer_id": customer_id,
        "campaign_id": offer_id,
        "sent_at": iso,
        "sent_ts": ts,
        "response": response,
        "responded_at": iso,
        "responded_ts": ts,
        "source": "response",
    }
    if channel:
        props["channel_id"] = channel
    params = {"customer_id": customer_id, "campaign_id": offer_id, "touch_id": touch_id, "props": props}
    if channel:
        rows = graph.write(RESPONSE_CREATE_VIA, {**params, "channel_id": channel})
    else:
        rows = graph.write(RESPONSE_CREATE, params)
    if not rows:
        raise GraphError(f"the response of {customer_id!r} to {offer_id!r} was not stored")
    return {"touch_id": touch_id, **{k: v for k, v in props.items() if k != "source"}}
