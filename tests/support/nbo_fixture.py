"""The next-best-offer fixture: a few customers, campaigns, touches, tickets and preferences as
contract rows, written to a folder (shared by the NBO, API and serve tests)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

NOW = datetime(2024, 6, 1, 12, tzinfo=timezone.utc)

CUSTOMERS = [
    # a1 and a2 are one person (same email); the rest are single accounts
    {"customer_id": "a1", "source": "crm", "email": "ann@example.com"},
    {"customer_id": "a2", "source": "webshop", "email": "ann@example.com"},
    *({"customer_id": c, "source": "crm", "email": f"{c}@example.com"} for c in ["b", "c", "d", "e", "f", "g", "h"]),
]
PRODUCTS = [
    {"product_id": "p1", "name": "Novel", "category": "books"},
    {"product_id": "p2", "name": "Atlas", "category": "books"},
    {"product_id": "p3", "name": "Kite", "category": "toys"},
    {"product_id": "p4", "name": "Rake", "category": "garden"},
    {"product_id": "p5", "name": "Poems", "category": "books"},
]
CHANNELS = [{"channel_id": "ch-email", "name": "Email", "kind": "email"}, {"channel_id": "ch-sms", "name": "SMS", "kind": "sms"}]
CAMPAIGNS = [
    {"campaign_id": "cA", "name": "Atlas cross-sell", "kind": "cross_sell", "channel_id": "ch-email", "offer_product_id": "p2",
     "start_date": "2024-01-01", "end_date": "2024-12-31"},
    {"campaign_id": "cB", "name": "Kite upsell", "kind": "upsell", "channel_id": "ch-email", "offer_product_id": "p3",
     "start_date": "2024-01-01", "end_date": ""},
    {"campaign_id": "cC", "name": "Rake (ended)", "kind": "upsell", "channel_id": "ch-email", "offer_product_id": "p4",
     "start_date": "2024-01-01", "end_date": "2024-05-31"},
    {"campaign_id": "cD", "name": "Novel again", "kind": "upsell", "channel_id": "ch-email", "offer_product_id": "p1",
     "start_date": "2024-01-01", "end_date": ""},
    {"campaign_id": "cE", "name": "Poems retention", "kind": "retention", "channel_id": "ch-sms", "offer_product_id": "p5",
     "start_date": "2024-01-01", "end_date": "2024-06-01"},
    {"campaign_id": "cF", "name": "Poems (not started)", "kind": "loyalty", "channel_id": "ch-sms", "offer_product_id": "p5",
     "start_date": "2024-07-01", "end_date": ""},
    {"campaign_id": "cG", "name": "No product", "kind": "loyalty", "channel_id": "ch-sms", "offer_product_id": "",
     "start_date": "2024-01-01", "end_date": ""},
]
TRANSACTIONS = [
    ("a1", "p1", 400.0), ("b", "p1", 1500.0), ("b", "p2", 600.0), ("c", "p3", 5.0), ("d", "p1", 300.0), ("d", "p5", 20.0),
    ("e", "p4", 300.0), ("f", "p3", 300.0), ("g", "p1", 300.0), ("h", "p2", 50.0), ("h", "p1", 250.0),
]
TOUCHES = [
    ("b", "cA", "accepted"), ("b", "cB", "rejected"), ("c", "cA", "rejected"), ("c", "cB", "accepted"),
    ("d", "cA", "accepted"), ("d", "cE", "none"), ("e", "cE", "opened"), ("a2", "cB", "rejected"),
    ("h", "cA", "none"), ("h", "cE", "accepted"), ("f", "cE", "rejected"), ("a1", "cE", "clicked"),
]
TICKETS = [
    {"ticket_id": "tk-1", "customer_id": "g", "opened_at": "2024-05-01", "severity": "high", "status": "open", "topic": "billing"},
    {"ticket_id": "tk-2", "customer_id": "f", "opened_at": "2024-05-01", "severity": "critical", "status": "closed", "topic": "defect"},
    {"ticket_id": "tk-3", "customer_id": "d", "opened_at": "2024-05-01", "severity": "low", "status": "open", "topic": "delivery"},
]
PREFERENCES = [
    {"customer_id": "a1", "key": "contact_channel", "value": "sms"},
    {"customer_id": "e", "key": "marketing_opt_out", "value": "true"},
    {"customer_id": "b", "key": "marketing_opt_out", "value": "false"},
]


def write_folder(folder: Path) -> dict[str, pd.DataFrame]:
    tables = {
        "customers": pd.DataFrame(CUSTOMERS),
        "products": pd.DataFrame(PRODUCTS),
        "channels": pd.DataFrame(CHANNELS),
        "campaigns": pd.DataFrame(CAMPAIGNS),
        "transactions": pd.DataFrame(
            [{"transaction_id": f"t{i}", "customer_id": c, "product_id": p, "amount": a, "occurred_at": "2024-03-01"}
             for i, (c, p, a) in enumerate(TRANSACTIONS)]),
        "campaign_touches": pd.DataFrame(
            [{"touch_id": f"tc{i}", "customer_id": c, "campaign_id": k, "sent_at": "2024-02-01", "response": r}
             for i, (c, k, r) in enumerate(TOUCHES)]),
        "tickets": pd.DataFrame(TICKETS),
        "preferences": pd.DataFrame(PREFERENCES),
    }
    for name, df in tables.items():
        df.to_csv(folder / f"{name}.csv", index=False)
    return tables
