"""Synthetic customer-360 data set with planted, known truth.

Writes every CSV file of the input data contract plus ``truth.json`` (what was planted:
identity clusters, taste communities, strong influencers, malformed and duplicate rows), so
demos, tests and benchmarks can check results against a known answer. Deterministic for a
given seed (byte-identical files) and vectorised: large event files are written in chunks
of persons, so memory stays bounded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

from graph.errors import InputError

__all__ = ["GenerationTruth", "generate", "load_truth", "FILES", "COLUMNS", "normalise_email", "normalise_phone"]

# ---------------------------------------------------------------------------------------------
# Contract columns (order as in data-contract.md)
COLUMNS: dict[str, list[str]] = {
    "customers": ["customer_id", "source", "name", "email", "phone", "city", "country", "birth_date", "signup_date", "loyalty_id"],
    "products": ["product_id", "name", "category", "price", "kind"],
    "channels": ["channel_id", "name", "kind"],
    "campaigns": ["campaign_id", "name", "kind", "channel_id", "offer_product_id", "start_date", "end_date"],
    "campaign_touches": ["touch_id", "customer_id", "campaign_id", "sent_at", "channel_id", "response", "responded_at"],
    "transactions": ["transaction_id", "customer_id", "occurred_at", "amount", "product_id", "quantity", "channel_id", "order_id"],
    "interactions": ["interaction_id", "customer_id", "occurred_at", "channel_id", "kind", "reason", "product_id", "campaign_id", "ticket_id", "sentiment", "text"],
    "tickets": ["ticket_id", "customer_id", "opened_at", "severity", "status", "channel_id", "topic", "product_id", "closed_at", "satisfaction"],
    "referrals": ["from_customer_id", "to_customer_id", "kind", "occurred_at"],
    "preferences": ["customer_id", "key", "value"],
}
FILES = [f"{name}.csv" for name in COLUMNS]

SOURCES = ["crm", "webshop", "support", "marketing"]
FORMULA_TEXT = "=cmd|' /C calc'!A0"
_BLOCK = 100_000  # persons per chunk; fixed so output does not depend on the machine
_W = 8  # zero padding of event ids
_BASE_END = np.datetime64("2024-12-31", "D")
_PERIOD_DAYS = 730

_FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
          "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
          "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Margaret", "José", "Zoë",
          "Ana", "Wei", "Fatima", "Mohammed", "Olga", "Hiroshi", "Priya", "Lars", "Chloé", "Sven"]
_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
         "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
         "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
         "O'Brien", "Müller", "Nguyen", "Kowalski", "Østergaard", "Dubois", "Rossi", "Tanaka", "Singh", "Silva"]
_DOMAINS = ["example.com", "mail.example", "inbox.example.org", "post.example.net"]
_CITIES = [("New York", "US"), ("Los Angeles", "US"), ("Chicago", "US"), ("Houston", "US"), ("Phoenix", "US"),
           ("Washington, D.C.", "US"), ("Seattle", "US"), ("Toronto", "CA"), ("Montréal", "CA"), ("London", "GB"),
           ("Manchester", "GB"), ("Berlin", "DE"), ("München", "DE"), ("Paris", "FR"), ("Madrid", "ES"),
           ("São Paulo", "BR"), ("Mexico City", "MX"), ("Sydney", "AU")]
_CATEGORIES = [("electronics", "product", 250.0), ("home", "product", 60.0), ("garden", "product", 40.0),
               ("sports", "product", 70.0), ("beauty", "product", 25.0), ("books", "product", 15.0),
               ("toys", "product", 30.0), ("fashion", "product", 55.0), ("grocery", "product", 8.0),
               ("outdoor", "product", 90.0), ("home_insurance", "policy", 30.0), ("travel_insurance", "policy", 45.0),
               ("device_protection", "policy", 12.0), ("mobile_plan", "plan", 35.0), ("streaming_plan", "plan", 12.0),
               ("broadband_plan", "plan", 45.0), ("repair", "service", 80.0), ("installation", "service", 120.0),
               ("consulting", "service", 150.0)]
_ADJ = ["Aurora", "Nimbus", "Vertex", "Solace", "Pioneer", "Harbor", "Summit", "Lumen", "Cascade", "Ember",
        "Atlas", "Willow", "Quartz", "Zephyr", "Orbit", "Maple"]
# channel_id, name, kind
_CHANNELS = [("ch-web", "Web shop", "web"), ("ch-mobile", "Mobile app", "mobile"), ("ch-store-1", "Store Downtown", "store"),
             ("ch-store-2", "Store Riverside", "store"), ("ch-call", "Call center", "call_center"),
             ("ch-email", "Email", "email"), ("ch-sms", "SMS", "sms"), ("ch-social", "Social media", "social"),
             ("ch-partner", "Partner network", "partner")]
_CH = {c[0]: i for i, c in enumerate(_CHANNELS)}
_CAMPAIGN_KINDS = ["acquisition", "upsell", "cross_sell", "retention", "loyalty"]
_RESPONSES = ["none", "opened", "clicked", "accepted", "rejected"]
_SEVERITIES = ["low", "medium", "high", "critical"]
_STATUSES = ["open", "pending", "resolved", "closed"]
_TOPICS = ["billing", "delivery", "defect", "account_access", "cancellation", "warranty", "claim", "installation"]
_REF_KINDS = ["referral", "social_follow", "household", "mention"]
# interaction kind -> (probability, channels, channel probabilities, reasons, has product prob, sentiment mean or None, has text)
_IKINDS: list[tuple[str, float, list[str], list[float], list[str], float, float | None, bool]] = [
    ("product_view", 0.55, ["ch-web", "ch-mobile"], [0.6, 0.4], ["browse", "search", "recommendation"], 1.0, None, False),
    ("visit", 0.10, ["ch-store-1", "ch-store-2"], [0.6, 0.4], ["browse", "pickup", "return"], 0.0, None, False),
    ("call", 0.07, ["ch-call"], [1.0], ["billing", "delivery", "product_question", "account", "cancellation", "upgrade"], 0.1, 0.05, False),
    ("email", 0.08, ["ch-email"], [1.0], ["billing", "delivery", "product_question", "account", "upgrade"], 0.1, 0.1, False),
    ("chat", 0.07, ["ch-web", "ch-mobile"], [0.5, 0.5], ["delivery", "product_question", "account", "upgrade"], 0.3, 0.1, True),
    ("review", 0.05, ["ch-web", "ch-mobile"], [0.7, 0.3], ["product_review"], 1.0, 0.35, True),
    ("social_post", 0.04, ["ch-social"], [1.0], ["mention", "question", "praise"], 0.2, 0.15, True),
    ("complaint", 0.04, ["ch-call", "ch-email", "ch-store-1"], [0.5, 0.3, 0.2], ["billing", "delivery", "defect", "service"], 0.5, -0.6, True),
]
_TEXT_POS = ["Great product, works as described.", "Fast delivery and friendly staff!", 'Love it - "best purchase this year".',
             "Very happy with the service, thanks.", "Good value for money."]
_TEXT_NEG = ["Item arrived damaged, want a refund.", "Still waiting for my order, very disappointed.",
             "Billing charged me twice, please fix.", "Support did not answer, cancelling.", 'The "premium" plan is slow, again.']

# file -> list of (field, reason, bad value); the key column gets a fresh "<prefix>bad-NNNN" id
_MALFORMED: dict[str, list[tuple[str, str, str]]] = {
    "customers": [("customer_id", "missing_required", ""), ("source", "missing_required", ""), ("signup_date", "bad_date", "2023-02-30")],
    "products": [("name", "missing_required", ""), ("price", "bad_number", "12,99 EUR"), ("kind", "unknown_enum", "gadget")],
    "channels": [("kind", "unknown_enum", "carrier_pigeon"), ("name", "missing_required", "")],
    "campaigns": [("kind", "unknown_enum", "blast"), ("start_date", "bad_date", "next tuesday"),
                  ("offer_product_id", "unknown_reference", "p-missing-0001"), ("channel_id", "unknown_reference", "ch-missing")],
    "campaign_touches": [("customer_id", "unknown_reference", "crm-missing-0001"), ("sent_at", "bad_date", "2024-13-01T10:00:00Z"),
                         ("response", "unknown_enum", "maybe")],
    "transactions": [("amount", "bad_number", "12.3.4"), ("occurred_at", "bad_date", "31/12/2024"),
                     ("product_id", "unknown_reference", "p-missing-0002"), ("customer_id", "missing_required", "")],
    "interactions": [("channel_id", "unknown_reference", "ch-carrier-pigeon"), ("occurred_at", "bad_date", "yesterday"),
                     ("customer_id", "missing_required", ""), ("ticket_id", "unknown_reference", "tk-missing-0001")],
    "tickets": [("severity", "unknown_enum", "urgent"), ("status", "unknown_enum", "escalated"), ("opened_at", "bad_date", "2024-02-30"),
                ("customer_id", "unknown_reference", "webshop-missing-0001")],
    "referrals": [("to_customer_id", "unknown_reference", "crm-missing-0002"), ("kind", "unknown_enum", "friend"),
                  ("occurred_at", "bad_date", "someday")],
    "preferences": [("value", "missing_required", ""), ("customer_id", "unknown_reference", "marketing-missing-0001")],
}
_KEY_PREFIX = {"customers": ("customer_id", "crm-bad-"), "products": ("product_id", "p-bad-"), "channels": ("channel_id", "ch-bad-"),
               "campaigns": ("campaign_id", "cmp-bad-"), "campaign_touches": ("touch_id", "tc-bad-"),
               "transactions": ("transaction_id", "t-bad-"), "interactions": ("interaction_id", "i-bad-"),
               "tickets": ("ticket_id", "tk-bad-")}
_DUPLICATES = {"customers": 2, "products": 1, "campaign_touches": 2, "transactions": 3, "interactions": 3, "tickets": 1,
               "referrals": 2, "preferences": 2}


@dataclass
class GenerationTruth:
    """The planted truth of one generated data set (also the content of ``truth.json``)."""

    persons: dict[str, list[str]] = field(default_factory=dict)
    community_of: dict[str, int] = field(default_factory=dict)
    community_products: dict[int, list[str]] = field(default_factory=dict)
    influencers: list[str] = field(default_factory=list)
    malformed: list[dict[str, Any]] = field(default_factory=list)
    duplicates: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    influencer_reach: list[int] = field(default_factory=list)
    start_date: str = ""
    end_date: str = ""
    params: dict[str, Any] = field(default_factory=dict)


def normalise_email(value: str | None) -> str:
    """The email form accounts are linked on: stripped and lower-cased."""
    return "" if value is None else str(value).strip().lower()


def normalise_phone(value: str | None) -> str:
    """The phone form accounts are linked on: digits only, last 10 (drops a leading +1)."""
    digits = "".join(ch for ch in str(value or "") if ch.isdigit())
    return digits[-10:] if len(digits) >= 10 else digits


# ---------------------------------------------------------------------------------------------
# small vectorised string helpers (pyarrow compute keeps them in C)
_NULL = pa.scalar(None, pa.string())


def _ids(prefix: str, ints: np.ndarray, width: int = _W) -> pa.Array:
    num = pc.utf8_lpad(pc.cast(pa.array(np.asarray(ints, dtype=np.int64)), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, num, "")


def _lookup(values: list[str] | pa.Array, idx: np.ndarray) -> pa.Array:
    arr = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    return arr.take(pa.array(np.asarray(idx, dtype=np.int64)))


def _null_where(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), _NULL, arr)


def _num(x: np.ndarray, decimals: int | None = 2) -> pa.Array:
    if decimals is None:
        return pc.cast(pa.array(np.asarray(x, dtype=np.int64)), pa.string())
    return pc.cast(pa.array(np.round(np.asarray(x, dtype=np.float64), decimals) + 0.0), pa.string())


class _Clock:
    """Day/second sampling with seasonality (Nov/Dec peaks, weekends) and ISO formatting."""

    def __init__(self, end_day: np.datetime64) -> None:
        self.days = _PERIOD_DAYS
        self.start_day = end_day - np.timedelta64(self.days - 1, "D")
        dates = self.start_day + np.arange(self.days)
        month = (dates.astype("datetime64[M]").astype(int) % 12) + 1
        weekday = (dates.astype(np.int64) + 3) % 7  # 0 = Monday
        mf = np.array([0, 0.8, 0.8, 0.9, 0.95, 1.0, 1.0, 0.95, 0.95, 1.0, 1.05, 1.7, 2.2])[month]
        wf = np.array([0.9, 0.9, 0.95, 1.0, 1.1, 1.3, 1.15])[weekday]
        w = mf * wf * (1.0 + 0.2 * np.arange(self.days) / self.days)
        self.cdf = np.cumsum(w) / w.sum()
        hours = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3.5, 4.5, 5, 5.5, 6.5, 6, 5, 4.5, 4.5, 5, 6, 7, 7, 5.5, 3.5, 2])
        self.hour_p = hours / hours.sum()
        self.start_sec = int(self.start_day.astype("datetime64[s]").astype(np.int64))
        self.end_sec = self.start_sec + self.days * 86400 - 1
        self.day_str = pa.array(np.datetime_as_string(dates, unit="D"))
        tod = np.arange(86400)
        self.tod_str = pa.array([f"T{h:02d}:{m:02d}:{s:02d}Z" for h, m, s in zip(tod // 3600, tod // 60 % 60, tod % 60)])

    def day_in(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Seasonal day index within [lo, hi] (inclusive)."""
        clo = np.where(lo > 0, self.cdf[np.maximum(lo - 1, 0)], 0.0)
        chi = self.cdf[hi]
        v = clo + rng.random(len(lo)) * (chi - clo)
        return np.clip(np.searchsorted(self.cdf, v, side="left"), lo, hi)

    def sec_in(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        day = self.day_in(rng, lo, hi)
        hour = rng.choice(24, size=len(day), p=self.hour_p)
        return self.start_sec + day * 86400 + hour * 3600 + rng.integers(0, 3600, len(day))

    def ts(self, secs: np.ndarray) -> pa.Array:
        secs = np.clip(np.asarray(secs, dtype=np.int64), self.start_sec - 4000 * 86400, self.end_sec)
        rel = secs - self.start_sec
        day = rel // 86400
        if day.min(initial=0) < 0:  # dates before the period (signups): numpy formatting
            return pa.array(np.datetime_as_string(secs.astype("datetime64[s]"), unit="s", timezone="UTC"))
        return pc.binary_join_element_wise(_lookup(self.day_str, day), _lookup(self.tod_str, rel % 86400), "")

    def date(self, secs: np.ndarray) -> pa.Array:
        return pa.array(np.datetime_as_string(np.asarray(secs, dtype=np.int64).astype("datetime64[s]").astype("datetime64[D]")))


class _Writer:
    """Appends chunks to one CSV; plants malformed and duplicate rows in the first non-empty chunk."""

    def __init__(self, out: Path, name: str, rng: np.random.Generator, truth: GenerationTruth, malformed: bool) -> None:
        self.name, self.rng, self.truth = name, rng, truth
        self.columns = COLUMNS[name]
        self.path = out / f"{name}.csv"
        self.rows = 0
        self.pending = malformed
        pd.DataFrame(columns=self.columns).to_csv(self.path, index=False)

    def write(self, cols: dict[str, pa.Array | list]) -> None:
        table = pa.table({c: pa.array(cols[c], pa.string()) if not isinstance(cols[c], pa.Array) else cols[c].cast(pa.string())
                          for c in self.columns})
        if len(table) == 0:
            return
        if self.pending:
            table = self._plant(table)
            self.pending = False
        table.to_pandas().to_csv(self.path, mode="a", header=False, index=False)
        self.rows += len(table)
        self.truth.counts[f"{self.name}.csv"] = self.rows

    def _plant(self, table: pa.Table) -> pa.Table:
        n = len(table)
        extras: list[dict[str, Any]] = []
        reasons: list[tuple[str, str] | None] = []
        for j, (fld, reason, value) in enumerate(_MALFORMED.get(self.name, [])):
            row = table.slice(int(self.rng.integers(n)), 1).to_pylist()[0]
            if self.name in _KEY_PREFIX:
                key, prefix = _KEY_PREFIX[self.name]
                row[key] = f"{prefix}{j + 1:04d}"
            if self.name == "customers":  # never link a rejected row to a real person
                row.update(email=None, phone=None, loyalty_id=None)
            if self.name == "preferences":
                row["key"] = "contact_time"
            row[fld] = value if value != "" else None
            extras.append(row)
            reasons.append((fld, reason))
        for _ in range(_DUPLICATES.get(self.name, 0)):
            extras.append(table.slice(int(self.rng.integers(n)), 1).to_pylist()[0])
            reasons.append(None)
        m = len(extras)
        if m == 0:
            return table
        slots = np.sort(self.rng.choice(n + m, size=m, replace=False))
        order = np.empty(n + m, dtype=np.int64)
        is_extra = np.zeros(n + m, dtype=bool)
        is_extra[slots] = True
        order[~is_extra] = np.arange(n)
        order[slots] = n + np.arange(m)
        extra_t = pa.Table.from_pylist(extras, schema=table.schema)
        for slot, r in zip(slots, reasons):
            if r is not None:
                self.truth.malformed.append({"file": f"{self.name}.csv", "row": int(self.rows + slot + 1), "field": r[0], "reason": r[1]})
        dups = sum(r is None for r in reasons)
        if dups:
            self.truth.duplicates[f"{self.name}.csv"] = dups
        return pa.concat_tables([table, extra_t]).take(pa.array(order))


# ---------------------------------------------------------------------------------------------
# the population


@dataclass
class _World:
    """Everything the per-chunk event generators need (arrays indexed by person or account)."""

    clock: _Clock
    n_persons: int
    k: np.ndarray  # accounts per person
    acct_start: np.ndarray  # first account (person-sorted order) of each person
    acct_person: np.ndarray
    acct_source: np.ndarray
    acct_cid: pa.Array
    src_acct: np.ndarray  # (persons, 4): account of that source or -1
    comm: np.ndarray  # community of each person
    win_lo: np.ndarray  # active window (day index) of each person
    win_hi: np.ndarray
    optout: np.ndarray  # by account
    prod_ids: pa.Array
    prod_price: np.ndarray
    prod_kind: np.ndarray  # 0 product, 1 policy/plan/service
    prod_comm: np.ndarray
    group_cdf: np.ndarray  # within-community popularity cdf shifted by community index
    group_prod: np.ndarray  # products sorted by community, popularity rank
    global_cdf: np.ndarray
    camp_ids: pa.Array
    camp_channel: np.ndarray
    camp_offer: np.ndarray  # product index or -1
    camp_lo: np.ndarray  # seconds
    camp_hi: np.ndarray
    camp_weight: np.ndarray
    taste: float = 0.8  # share of purchase lines drawn from the person's community (views: +0.05)


def _weighted_order(rng: np.random.Generator, n: int, w: np.ndarray) -> np.ndarray:
    """Per row, the 4 sources in a weighted random order (Efraimidis-Spirakis keys)."""
    keys = rng.random((n, len(w))) ** (1.0 / w)
    return np.argsort(-keys, axis=1, kind="stable")


def _choose_products(w: _World, rng: np.random.Generator, comm: np.ndarray, strength: float) -> np.ndarray:
    """Products by taste: community favourites with probability `strength`, else global popularity."""
    n = len(comm)
    own = rng.random(n) < strength
    out = np.searchsorted(w.global_cdf, rng.random(n), side="right")
    pos = np.searchsorted(w.group_cdf, comm[own] + rng.random(int(own.sum())), side="right")
    out[own] = w.group_prod[np.minimum(pos, len(w.group_prod) - 1)]
    return np.minimum(out, len(w.prod_price) - 1)


def _pick_account(w: _World, rng: np.random.Generator, person: np.ndarray, prefer: list[int], p_pref: float) -> np.ndarray:
    """An account of each person: one of the preferred sources when it has one, else any."""
    acct = w.acct_start[person] + (rng.random(len(person)) * w.k[person]).astype(np.int64)
    use = rng.random(len(person)) < p_pref
    for s in reversed(prefer):
        cand = w.src_acct[person, s]
        acct = np.where(use & (cand >= 0), cand, acct)
    return acct


def _channels_pick(rng: np.random.Generator, n: int, names: list[str], p: list[float]) -> np.ndarray:
    return np.array([_CH[c] for c in names])[rng.choice(len(names), size=n, p=p)]


def _build_people(customers: int, communities: int, rng: np.random.Generator, clock: _Clock):
    ks = rng.choice([1, 2, 3], size=customers, p=[0.62, 0.27, 0.11])
    csum = np.cumsum(ks)
    n_persons = int(np.searchsorted(csum, customers) + 1)
    k = ks[:n_persons].copy()
    k[-1] -= int(csum[n_persons - 1] - customers)
    acct_start = np.concatenate([[0], np.cumsum(k)[:-1]])
    acct_person = np.repeat(np.arange(n_persons), k)
    pos = np.arange(customers) - acct_start[acct_person]  # position of the account in its person's chain
    order = _weighted_order(rng, n_persons, np.array([0.35, 0.35, 0.15, 0.15]))
    acct_source = order[acct_person, pos]
    src_acct = np.full((n_persons, 4), -1, dtype=np.int64)
    src_acct[acct_person, acct_source] = np.arange(customers)
    sizes = rng.dirichlet(np.full(communities, 4.0))
    comm = rng.choice(communities, size=n_persons, p=sizes)
    comm[:communities] = np.arange(communities)  # every community has someone
    d = clock.days
    win_lo = np.minimum((d * rng.beta(0.7, 1.6, n_persons)).astype(np.int64), d - 30)
    churned = rng.random(n_persons) < 0.3
    win_hi = np.where(churned, win_lo + ((d - win_lo) * rng.uniform(0.1, 0.8, n_persons)).astype(np.int64), d - 1)
    return n_persons, k, acct_start, acct_person, pos, acct_source, src_acct, comm, win_lo, np.minimum(win_hi, d - 1)


def _customer_table(rng: np.random.Generator, w: _World, pos: np.ndarray, clock: _Clock) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Customer rows in file order (shuffled) and the file order itself; sets w.acct_cid."""
    a, p = len(w.acct_person), w.n_persons
    person, k = w.acct_person, w.k
    # ids: numbered per source in file order
    file_order = rng.permutation(a)
    src_in_file = w.acct_source[file_order]
    num = np.zeros(a, dtype=np.int64)
    for s in range(4):
        m = src_in_file == s
        num[m] = np.arange(1, int(m.sum()) + 1)
    width = max(6, len(str(int(num.max(initial=1)))))
    cid_file = pc.binary_join_element_wise(_lookup(SOURCES, src_in_file),
                                           pc.utf8_lpad(pc.cast(pa.array(num), pa.string()), width=width, padding="0"), "-")
    inv = np.empty(a, dtype=np.int64)
    inv[file_order] = np.arange(a)
    w.acct_cid = cid_file.take(pa.array(inv))
    # link chain: type of link between account j and j+1 of a person (0 email, 1 phone, 2 loyalty)
    l1 = rng.choice(3, size=p, p=[0.45, 0.35, 0.2])
    l2 = np.where(rng.random(p) < 0.7, (l1 + rng.integers(1, 3, p)) % 3, l1)
    left = np.where(pos == 1, l1[person], np.where(pos == 2, l2[person], -1))
    right = np.where((pos == 0) & (k[person] >= 2), l1[person], np.where((pos == 1) & (k[person] == 3), l2[person], -1))
    single = k[person] == 1
    u = rng.random((a, 3))
    show = np.stack([(left == t) | (right == t) for t in range(3)], axis=1)
    show[single, 0] = u[single, 0] < 0.9
    show[single, 1] = u[single, 1] < 0.75
    show[single, 2] = u[single, 2] < 0.3
    alt = (~show) & ~single[:, None] & (rng.random((a, 3)) < np.array([0.6, 0.4, 0.0]))
    # names
    fi, li = rng.integers(len(_FIRST), size=p), rng.integers(len(_LAST), size=p)
    first, last = _lookup(_FIRST, fi[person]), _lookup(_LAST, li[person])
    style = rng.choice(3, size=a, p=[0.75, 0.12, 0.13])
    name = pc.if_else(pa.array(style == 0), pc.binary_join_element_wise(first, last, " "),
                      pc.if_else(pa.array(style == 1), pc.binary_join_element_wise(pc.utf8_upper(last), first, ", "),
                                 pc.binary_join_element_wise(pc.utf8_slice_codeunits(first, 0, 1), last, ". ")))
    # emails: person email unique by person number; alt email unique by account
    slug = pc.binary_join_element_wise(pc.utf8_lower(pc.ascii_lower(first)), pc.utf8_lower(last), ".")
    slug = pc.replace_substring_regex(pc.utf8_normalize(slug, "NFKD"), r"[^a-z.]", "")
    pnum = pc.cast(pa.array(person + 1), pa.string())
    dom = _lookup(_DOMAINS, rng.integers(len(_DOMAINS), size=p)[person])
    email = pc.binary_join_element_wise(pc.binary_join_element_wise(slug, pnum, ""), dom, "@")
    alt_email = pc.binary_join_element_wise(pc.binary_join_element_wise(slug, "w", pc.cast(pa.array(np.arange(a) + 1), pa.string()), ""),
                                            "work.example", "@")
    email = pc.if_else(pa.array(alt[:, 0]), alt_email, email)
    case = rng.choice(4, size=a, p=[0.6, 0.15, 0.15, 0.1])
    email = pc.if_else(pa.array(case == 1), pc.utf8_upper(email), pc.if_else(pa.array(case == 2), pc.utf8_capitalize(email), email))
    email = pc.if_else(pa.array(case == 3), pc.binary_join_element_wise(" ", email, " ", ""), email)
    email = _null_where(email, ~(show[:, 0] | alt[:, 0]))
    # phones: 10 digits AAA-EEE-LLLL, person numbers use exchange 555, account-specific ones 556
    pphone = rng.choice(790 * 10000, size=p, replace=False)
    ph_num = np.where(alt[:, 1], np.arange(a), pphone[person])
    area, line = 201 + ph_num // 10000, ph_num % 10000
    exch = np.where(alt[:, 1], "556", "555")
    area_s = pc.cast(pa.array(area), pa.string())
    line_s = pc.utf8_lpad(pc.cast(pa.array(line), pa.string()), width=4, padding="0")
    exch_s = pa.array(exch)
    fmt = rng.integers(0, 5, size=a)
    fmts = [pc.binary_join_element_wise("+1 " , area_s, "-", exch_s, "-", line_s, ""),
            pc.binary_join_element_wise("(", area_s, ") ", exch_s, " ", line_s, ""),
            pc.binary_join_element_wise(area_s, exch_s, line_s, ""),
            pc.binary_join_element_wise("+1", area_s, exch_s, line_s, ""),
            pc.binary_join_element_wise(area_s, ".", exch_s, ".", line_s, "")]
    phone = fmts[4]
    for f in range(4):
        phone = pc.if_else(pa.array(fmt == f), fmts[f], phone)
    phone = _null_where(phone, ~(show[:, 1] | alt[:, 1]))
    loyalty = _null_where(_ids("LY", rng.choice(90_000_000, size=p, replace=False)[person] + 10_000_000, 8), ~show[:, 2])
    city_i = rng.integers(len(_CITIES), size=p)[person]
    city = _null_where(_lookup([c for c, _ in _CITIES], city_i), rng.random(a) < 0.1)
    country = _lookup([c for _, c in _CITIES], city_i)
    birth = (np.datetime64("1945-01-01") + rng.integers(0, 60 * 365, size=p)).astype("datetime64[D]")[person]
    birth_s = _null_where(pa.array(np.datetime_as_string(birth)), rng.random(a) < 0.25)
    signup_day = w.win_lo[person] - rng.integers(0, 900, size=a)
    signup = clock.date(clock.start_sec + signup_day * 86400)
    cols = {"customer_id": w.acct_cid, "source": _lookup(SOURCES, w.acct_source), "name": name, "email": email, "phone": phone,
            "city": city, "country": country, "birth_date": birth_s, "signup_date": signup, "loyalty_id": loyalty}
    return {c: v.take(pa.array(file_order)) for c, v in cols.items()}, file_order


def _products(rng: np.random.Generator, n: int, communities: int) -> tuple[dict[str, pa.Array], dict[str, np.ndarray]]:
    ncat = len(_CATEGORIES)
    cat_order = rng.permutation(ncat)
    prefs = [[int(cat_order[(2 * c + j) % ncat]) for j in range(2)] for c in range(communities)]
    prod_comm = rng.permutation(np.arange(n) % communities)
    cat = rng.integers(ncat, size=n)
    own = rng.random(n) < 0.85
    pick = rng.integers(2, size=n)
    pref_arr = np.array(prefs)
    cat = np.where(own, pref_arr[prod_comm, pick], cat)
    base = np.array([c[2] for c in _CATEGORIES])[cat]
    kinds = np.array([c[1] for c in _CATEGORIES])[cat]
    price = np.round(np.maximum(1.0, base * rng.lognormal(0, 0.45, n)), 0) - 0.01
    width = max(4, len(str(n)))
    ids = _ids("p-", np.arange(1, n + 1), width)
    names = pc.binary_join_element_wise(_lookup(_ADJ, rng.integers(len(_ADJ), size=n)),
                                        _lookup([c[0].replace("_", " ").title() for c in _CATEGORIES], cat),
                                        pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), " ")
    cols = {"product_id": ids, "name": names, "category": _lookup([c[0] for c in _CATEGORIES], cat), "price": _num(price),
            "kind": pa.array(kinds)}
    return cols, {"price": price, "is_product": kinds == "product", "comm": prod_comm}


def _campaigns(rng: np.random.Generator, n: int, clock: _Clock, prod_comm: np.ndarray, group_prod: np.ndarray,
               group_off: np.ndarray, communities: int, cat_names: pa.Array) -> tuple[dict[str, pa.Array], dict[str, np.ndarray]]:
    kind = np.concatenate([np.arange(5), rng.integers(5, size=max(0, n - 5))])[:n]
    chans = ["ch-email", "ch-sms", "ch-social", "ch-mobile", "ch-web", "ch-call"]
    channel = _channels_pick(rng, n, chans, [0.4, 0.15, 0.15, 0.12, 0.1, 0.08])
    target = rng.integers(communities, size=n)
    # a popular product of the target community (top 5 of its ranking)
    top = np.minimum(rng.integers(0, 5, size=n), group_off[target + 1] - group_off[target] - 1)
    offer = np.where(rng.random(n) < 0.85, group_prod[group_off[target] + top], -1)
    start = rng.integers(0, clock.days - 20, size=n)
    end = np.minimum(start + rng.integers(7, 61, size=n), clock.days - 1)
    season = np.array(["Winter", "Winter", "Spring", "Spring", "Spring", "Summer", "Summer", "Summer", "Autumn", "Autumn",
                       "Black Friday", "Holiday"])
    month = ((clock.start_day + start).astype("datetime64[M]").astype(int) % 12)
    year = (clock.start_day + start).astype("datetime64[Y]").astype(int) + 1970
    name = pc.binary_join_element_wise(pa.array(season[month]), pc.cast(pa.array(year), pa.string()),
                                       _lookup([k.replace("_", "-") for k in _CAMPAIGN_KINDS], kind), " ")
    name = pc.if_else(pa.array(offer >= 0), pc.binary_join_element_wise(name, _lookup(cat_names, np.maximum(offer, 0)), ": "), name)
    ids = _ids("cmp-", np.arange(1, n + 1), 3)
    day_s = lambda d: clock.date(clock.start_sec + d * 86400)  # noqa: E731
    cols = {"campaign_id": ids, "name": name, "kind": _lookup(_CAMPAIGN_KINDS, kind), "channel_id": _lookup([c[0] for c in _CHANNELS], channel),
            "offer_product_id": None, "start_date": day_s(start), "end_date": day_s(end)}
    return cols, {"channel": channel, "offer": offer, "lo": clock.start_sec + start * 86400,
                  "hi": clock.start_sec + end * 86400 + 86399, "weight": rng.lognormal(0, 0.6, n)}


def _block_events(w: _World, rng: np.random.Generator, p0: int, p1: int, tpc: float, ctr: dict[str, int],
                  first: bool) -> dict[str, dict[str, pa.Array]]:
    """Touches, transactions, tickets, interactions and preferences of persons [p0, p1)."""
    clock = w.clock
    persons = np.arange(p0, p1)
    a0, a1 = int(w.acct_start[p0]), int(w.acct_start[p1 - 1] + w.k[p1 - 1])
    accts = np.arange(a0, a1)
    out: dict[str, dict[str, pa.Array]] = {}
    cids = w.acct_cid
    ch_ids = [c[0] for c in _CHANNELS]

    def next_ids(key: str, prefix: str, n: int) -> pa.Array:
        ids = _ids(prefix, np.arange(ctr[key] + 1, ctr[key] + n + 1))
        ctr[key] += n
        return ids

    # ---- preferences
    has_cc = rng.random(len(accts)) < 0.85
    cc = rng.choice(4, size=len(accts), p=[0.5, 0.2, 0.2, 0.1])
    has_opt = rng.random(len(accts)) < 0.9
    has_lang = rng.random(len(accts)) < 0.65
    lang = rng.choice(5, size=len(accts), p=[0.6, 0.15, 0.1, 0.1, 0.05])
    key_of = np.concatenate([np.zeros(len(accts), int), np.ones(len(accts), int), np.full(len(accts), 2)])
    val = pa.concat_arrays([_lookup(["email", "sms", "phone", "mail"], cc),
                            _lookup(["false", "true"], w.optout[accts].astype(int)), _lookup(["en", "es", "fr", "de", "pt"], lang)])
    keep = np.concatenate([has_cc, has_opt, has_lang])
    acct3 = np.concatenate([accts, accts, accts])
    order = np.lexsort((key_of, acct3))
    order = order[keep[order]]
    out["preferences"] = {"customer_id": _lookup(cids, acct3[order]), "key": _lookup(["contact_channel", "marketing_opt_out", "language"], key_of[order]),
                          "value": val.take(pa.array(order))}
    # has_opt False means the account never stated one: treat as not opted out
    opted = w.optout[accts] & has_opt

    # ---- campaign touches
    lam = np.where(w.acct_source[accts] == 3, 4.0, 1.2) * np.where(opted, 0.02, 1.0)
    nt = rng.poisson(lam)
    t_acct = np.repeat(accts, nt)
    camp = rng.choice(len(w.camp_weight), size=len(t_acct), p=w.camp_weight / w.camp_weight.sum())
    sent = w.camp_lo[camp] + (rng.random(len(t_acct)) * (w.camp_hi[camp] - w.camp_lo[camp])).astype(np.int64)
    offer = w.camp_offer[camp]
    fit = (offer >= 0) & (w.prod_comm[np.maximum(offer, 0)] == w.comm[w.acct_person[t_acct]])
    p_acc = np.where(offer < 0, 0.04, np.where(fit, 0.32, 0.02))
    u = rng.random(len(t_acct))
    resp = np.select([u < p_acc, u < p_acc + 0.06, u < p_acc + 0.18, u < p_acc + 0.43], [3, 4, 2, 1], 0)
    responded = sent + rng.exponential(20 * 3600, len(t_acct)).astype(np.int64) + 60
    late = responded > clock.end_sec
    resp = np.where(late, 0, resp)
    out["campaign_touches"] = {"touch_id": next_ids("touch", "tc-", len(t_acct)), "customer_id": _lookup(cids, t_acct),
                               "campaign_id": _lookup(w.camp_ids, camp), "sent_at": clock.ts(sent),
                               "channel_id": _lookup(ch_ids, w.camp_channel[camp]), "response": _lookup(_RESPONSES, resp),
                               "responded_at": _null_where(clock.ts(responded), resp == 0)}

    # ---- transactions: orders, offer purchases, refunds
    target_orders = tpc * len(accts) / len(persons) / 1.6
    if target_orders >= 1.2:  # 10% never buy, 35% buy once, the rest a skewed number of orders
        m = max((target_orders - 0.9) / 0.55, 1e-6)
        rest = 1 + rng.negative_binomial(0.7, 0.7 / (0.7 + m), size=len(persons))
        u = rng.random(len(persons))
        n_orders = np.where(u < 0.1, 0, np.where(u < 0.45, 1, rest))
    else:
        n_orders = (rng.random(len(persons)) < target_orders).astype(np.int64)
    o_person = np.repeat(persons, n_orders)
    o_acct = _pick_account(w, rng, o_person, [1, 0], 0.85)
    o_time = clock.sec_in(rng, w.win_lo[o_person], w.win_hi[o_person])
    src = w.acct_source[o_acct]
    o_chan = np.where(src == 1, _channels_pick(rng, len(o_acct), ["ch-web", "ch-mobile"], [0.6, 0.4]),
                      _channels_pick(rng, len(o_acct), ["ch-store-1", "ch-store-2", "ch-call", "ch-partner", "ch-web"],
                                     [0.35, 0.25, 0.15, 0.1, 0.15]))
    # accepted offers become purchases
    buy = (resp == 3) & (rng.random(len(t_acct)) < 0.6)
    b_acct, b_prod = t_acct[buy], offer[buy]
    b_prod = np.where(b_prod >= 0, b_prod, _choose_products(w, rng, w.comm[w.acct_person[b_acct]], w.taste))
    b_time = np.minimum(responded[buy] + rng.integers(0, 2 * 86400, int(buy.sum())), clock.end_sec)
    b_chan = np.where(np.isin(w.camp_channel[camp[buy]], [_CH["ch-web"], _CH["ch-mobile"], _CH["ch-call"]]),
                      w.camp_channel[camp[buy]], _CH["ch-web"])
    n_lines = 1 + rng.poisson(0.6, size=len(o_acct))
    o_all_acct = np.concatenate([o_acct, b_acct])
    o_all_time = np.concatenate([o_time, b_time])
    o_all_chan = np.concatenate([o_chan, b_chan])
    n_lines = np.concatenate([n_lines, np.ones(len(b_acct), dtype=np.int64)])
    order_no = np.arange(ctr["order"] + 1, ctr["order"] + len(o_all_acct) + 1)
    ctr["order"] += len(o_all_acct)
    l_order = np.repeat(np.arange(len(o_all_acct)), n_lines)
    l_acct = o_all_acct[l_order]
    l_prod = _choose_products(w, rng, w.comm[w.acct_person[l_acct]], w.taste)
    offer_line = np.repeat(np.arange(len(o_all_acct)) >= len(o_acct), n_lines)
    l_prod[offer_line] = b_prod
    l_qty = np.where(w.prod_kind[l_prod], 1 + rng.poisson(0.3, len(l_prod)), 1)
    l_amt = w.prod_price[l_prod] * l_qty * np.where(rng.random(len(l_prod)) < 0.15, 0.8, 1.0)
    l_time = o_all_time[l_order] + np.arange(len(l_order)) % 3  # lines of an order a second apart
    # refunds
    ref = rng.random(len(l_prod)) < 0.02
    r_idx = np.flatnonzero(ref)
    r_time = np.minimum(l_time[r_idx] + rng.integers(86400, 30 * 86400, len(r_idx)), clock.end_sec)
    t_idx = np.concatenate([np.arange(len(l_prod)), r_idx])
    t_time = np.concatenate([np.minimum(l_time, clock.end_sec), r_time])
    t_amt = np.concatenate([l_amt, -l_amt[r_idx]])
    out["transactions"] = {"transaction_id": next_ids("transaction", "t-", len(t_idx)), "customer_id": _lookup(cids, l_acct[t_idx]),
                           "occurred_at": clock.ts(t_time), "amount": _num(t_amt), "product_id": _lookup(w.prod_ids, l_prod[t_idx]),
                           "quantity": _num(l_qty[t_idx], None), "channel_id": _lookup(ch_ids, o_all_chan[l_order[t_idx]]),
                           "order_id": _ids("o-", order_no[l_order[t_idx]])}

    # ---- tickets
    n_tk = rng.poisson(0.3 * w.k[persons])
    k_person = np.repeat(persons, n_tk)
    nk = len(k_person)
    k_acct = _pick_account(w, rng, k_person, [2], 0.8)
    k_open = clock.sec_in(rng, w.win_lo[k_person], np.minimum(w.win_hi[k_person] + 30, clock.days - 1))
    sev = rng.choice(4, size=nk, p=[0.4, 0.35, 0.18, 0.07])
    age = (clock.end_sec - k_open) / 86400
    status = np.where(age < 14, rng.choice(4, size=nk, p=[0.45, 0.25, 0.2, 0.1]), rng.choice(4, size=nk, p=[0.03, 0.03, 0.14, 0.8]))
    if first and nk:
        few = np.arange(min(3, nk))
        sev[few], status[few] = 3, 0
        k_open[few] = clock.end_sec - rng.integers(3600, 10 * 86400, len(few))
    hours = rng.lognormal(np.log(np.array([48, 30, 16, 6])[sev]), 0.8)
    closed = k_open + (hours * 3600).astype(np.int64)
    is_closed = status >= 2
    closed = np.where(is_closed, np.minimum(closed, clock.end_sec), 0)
    sat = np.clip(np.round(4.6 - 0.35 * sev - 0.3 * np.log1p(hours / 24) + rng.normal(0, 0.8, nk)), 1, 5)
    has_sat = (status == 3) & (rng.random(nk) < 0.85)
    k_chan = _channels_pick(rng, nk, ["ch-call", "ch-email", "ch-web", "ch-store-1"], [0.45, 0.3, 0.15, 0.1])
    k_prod = _choose_products(w, rng, w.comm[k_person], 0.7)
    has_prod = rng.random(nk) < 0.6
    topic = rng.integers(len(_TOPICS), size=nk)
    tk_no = np.arange(ctr["ticket"] + 1, ctr["ticket"] + nk + 1)
    ctr["ticket"] += nk
    out["tickets"] = {"ticket_id": _ids("tk-", tk_no), "customer_id": _lookup(cids, k_acct), "opened_at": clock.ts(k_open),
                      "severity": _lookup(_SEVERITIES, sev), "status": _lookup(_STATUSES, status),
                      "channel_id": _lookup(ch_ids, k_chan), "topic": _lookup(_TOPICS, topic),
                      "product_id": _null_where(_lookup(w.prod_ids, k_prod), ~has_prod),
                      "closed_at": _null_where(clock.ts(closed), ~is_closed),
                      "satisfaction": _null_where(_num(sat, None), ~has_sat)}

    # ---- interactions: everyday ones, ticket follow-ups, campaign clicks
    src_factor = np.array([0.8, 1.5, 0.6, 0.8])[w.acct_source[accts]]
    ni = rng.poisson((0.6 * tpc + 1) * src_factor)
    i_acct = np.repeat(accts, ni)
    n = len(i_acct)
    i_person = w.acct_person[i_acct]
    kind = rng.choice(len(_IKINDS), size=n, p=[k[1] for k in _IKINDS])
    i_chan = np.zeros(n, dtype=np.int64)
    reason = np.empty(n, dtype=object)
    has_p = np.zeros(n, dtype=bool)
    senti = np.full(n, np.nan)
    has_text = np.zeros(n, dtype=bool)
    for j, (_, _, chs, chp, reasons, pp, smean, txt) in enumerate(_IKINDS):
        m = kind == j
        c = int(m.sum())
        i_chan[m] = _channels_pick(rng, c, chs, chp)
        reason[m] = np.array(reasons, dtype=object)[rng.integers(len(reasons), size=c)]
        has_p[m] = rng.random(c) < pp
        if smean is not None:
            senti[m] = np.clip(rng.normal(smean, 0.35, c), -1, 1)
        has_text[m] = txt
    i_time = clock.sec_in(rng, w.win_lo[i_person], w.win_hi[i_person])
    i_prod = _choose_products(w, rng, w.comm[i_person], min(1.0, w.taste + 0.05))
    # ticket follow-ups: a complaint when opened, maybe more contacts before closing
    nf = 1 + rng.binomial(2, 0.4, size=nk)
    f_t = np.repeat(np.arange(nk), nf)
    f_first = np.concatenate([[True], f_t[1:] != f_t[:-1]]) if len(f_t) else np.zeros(0, dtype=bool)
    f_end = np.where(is_closed, closed, clock.end_sec)[f_t]
    f_time = np.where(f_first, k_open[f_t], k_open[f_t] + (rng.random(len(f_t)) * (f_end - k_open[f_t])).astype(np.int64))
    f_kind = np.where(f_first, 7, np.select([k_chan[f_t] == _CH["ch-call"], k_chan[f_t] == _CH["ch-email"]], [2, 3], 4))
    # campaign clicks: a product view that came from a campaign
    cl = np.flatnonzero(((resp == 2) | (resp == 3)) & (rng.random(len(t_acct)) < 0.5))
    kinds_all = np.concatenate([kind, f_kind, np.zeros(len(cl), dtype=np.int64)])
    acct_all = np.concatenate([i_acct, k_acct[f_t], t_acct[cl]])
    time_all = np.concatenate([i_time, f_time, responded[cl]])
    chan_all = np.concatenate([i_chan, k_chan[f_t], _channels_pick(rng, len(cl), ["ch-web", "ch-mobile"], [0.6, 0.4])])
    reason_all = np.concatenate([reason, np.array(_TOPICS, dtype=object)[topic[f_t]], np.full(len(cl), "campaign", dtype=object)])
    prod_all = np.concatenate([np.where(has_p, i_prod, -1), np.where(has_prod, k_prod, -1)[f_t], offer[cl]])
    camp_all = np.concatenate([np.full(n + len(f_t), -1), camp[cl]])
    tk_all = np.concatenate([np.full(n, -1), tk_no[f_t], np.full(len(cl), -1)])
    senti_all = np.concatenate([senti, np.clip(rng.normal(-0.5, 0.3, len(f_t)), -1, 1), np.full(len(cl), np.nan)])
    text_all = np.concatenate([has_text, f_first, np.zeros(len(cl), dtype=bool)])
    pos_t = rng.integers(len(_TEXT_POS), size=len(acct_all))
    neg_t = rng.integers(len(_TEXT_NEG), size=len(acct_all))
    text = pc.if_else(pa.array(np.nan_to_num(senti_all) >= 0), _lookup(_TEXT_POS, pos_t), _lookup(_TEXT_NEG, neg_t))
    if first and text_all.any():  # a formula-looking cell is valid text; tools must not evaluate it
        text = pc.if_else(pa.array(np.arange(len(acct_all)) == int(np.argmax(text_all))), pa.scalar(FORMULA_TEXT), text)
    out["interactions"] = {
        "interaction_id": next_ids("interaction", "i-", len(acct_all)), "customer_id": _lookup(cids, acct_all),
        "occurred_at": clock.ts(time_all), "channel_id": _lookup(ch_ids, chan_all),
        "kind": _lookup([k[0] for k in _IKINDS], kinds_all), "reason": pa.array(reason_all, pa.string()),
        "product_id": _null_where(_lookup(w.prod_ids, np.maximum(prod_all, 0)), prod_all < 0),
        "campaign_id": _null_where(_lookup(w.camp_ids, np.maximum(camp_all, 0)), camp_all < 0),
        "ticket_id": _null_where(_ids("tk-", np.maximum(tk_all, 0)), tk_all < 0),
        "sentiment": _null_where(_num(np.nan_to_num(senti_all)), np.isnan(senti_all)),
        "text": _null_where(text, ~text_all)}
    return out


def _referrals(w: _World, rng: np.random.Generator, n_infl: int, edges: int | None = None,
               extra_rng: np.random.Generator | None = None) -> tuple[dict[str, pa.Array], list[int], list[int]]:
    """Deep referral trees under planted influencers, plus sparse background edges.

    Edges point from the influencing account to the influenced one. Background edges never
    enter a tree person's accounts, so nobody outside a tree can reach into one.
    ``edges`` (None: as many as the trees and the background make) sets the exact number of
    rows: a random part of the background is left out, or extra weak ties are added
    (:func:`_extra_ties`, drawn from ``extra_rng``); tree edges are always all kept.
    """
    clock, p, a = w.clock, w.n_persons, len(w.acct_person)
    social = _pick_account(w, rng, np.arange(p), [3, 1], 0.6)  # the account each person uses socially
    pool = rng.permutation(p)
    t_max = int(min(400, max(12, 0.45 * p / max(n_infl, 1))))
    src, dst, kind, day = [], [], [], []
    in_tree = np.zeros(p, dtype=bool)
    roots, ptr = [], 0
    for i in range(n_infl):
        size = max(6, int(t_max * (1 - 0.5 * i / max(n_infl, 1))))
        if ptr + size > p:
            break
        members = pool[ptr:ptr + size]
        ptr += size
        in_tree[members] = True
        roots.append(int(members[0]))
        node_day = np.zeros(size, dtype=np.int64)
        node_day[0] = rng.integers(0, clock.days // 3)
        nxt, frontier = 1, np.array([0])
        first_level = max(3, int(0.35 * size))
        while nxt < size:
            kids = rng.poisson(1.3, len(frontier)) if nxt > 1 else np.array([first_level])
            if kids.sum() == 0:
                kids[rng.integers(len(frontier))] = 1
            kids = np.minimum(kids, np.maximum(0, size - nxt - np.concatenate([[0], np.cumsum(kids)[:-1]])))
            parents = np.repeat(frontier, kids)
            child = np.arange(nxt, nxt + len(parents))
            nxt += len(parents)
            node_day[child] = np.minimum(node_day[parents] + rng.integers(3, 90, len(parents)), clock.days - 1)
            src.append(social[members[parents]])
            dst.append(social[members[child]])
            kind.append(rng.choice(4, size=len(parents), p=[0.8, 0.1, 0.0, 0.1]))
            day.append(node_day[child])
            frontier = child
    n_tree_raw = sum(len(x) for x in src)
    # background: random pairs, targets outside every tree; household ties go both ways
    free = np.flatnonzero(~in_tree[w.acct_person])
    n_bg = int(0.35 * a)
    if len(free) and n_bg:
        b_src = rng.integers(a, size=n_bg)
        b_dst = free[rng.integers(len(free), size=n_bg)]
        b_kind = rng.choice(4, size=n_bg, p=[0.2, 0.35, 0.25, 0.2])
        back = (b_kind == 2) & ~in_tree[w.acct_person[b_src]]
        src += [b_src, b_dst[back]]
        dst += [b_dst, b_src[back]]
        kind += [b_kind, b_kind[back]]
        b_day = rng.integers(0, clock.days, size=n_bg)
        day += [b_day, b_day[back]]
    s_all = np.concatenate(src) if src else np.zeros(0, np.int64)
    d_all = np.concatenate(dst) if dst else np.zeros(0, np.int64)
    k_all = np.concatenate(kind) if kind else np.zeros(0, np.int64)
    day_all = np.concatenate(day) if day else np.zeros(0, np.int64)
    ok = w.acct_person[s_all] != w.acct_person[d_all]
    s_all, d_all, k_all, day_all = s_all[ok], d_all[ok], k_all[ok], day_all[ok]
    _, first_ix = np.unique(np.stack([s_all, d_all, k_all]), axis=1, return_index=True)
    keep = np.sort(first_ix)
    s_all, d_all, k_all, day_all = s_all[keep], d_all[keep], k_all[keep], day_all[keep]
    secs = clock.start_sec + day_all * 86400 + rng.integers(8 * 3600, 22 * 3600, len(day_all))
    if edges is not None:  # tree edges come first (first occurrences keep their order)
        n_tree = int((np.flatnonzero(ok)[keep] < n_tree_raw).sum())
        if edges < n_tree:
            raise InputError(f"influence_edges ({edges:,}) is below the {n_tree:,} edges of the planted influencer trees")
        if edges < len(s_all):
            sel = np.r_[np.arange(n_tree), n_tree + np.sort(extra_rng.choice(len(s_all) - n_tree, edges - n_tree, replace=False))]
            s_all, d_all, k_all, secs = s_all[sel], d_all[sel], k_all[sel], secs[sel]
    # strongest first: reach over the account graph (the extra weak ties below left out)
    g = csr_matrix((np.ones(len(s_all), dtype=np.int8), (s_all, d_all)), shape=(a, a))
    reach = [len(breadth_first_order(g, int(social[r]), directed=True, return_predecessors=False)) - 1 for r in roots]
    order = sorted(range(len(roots)), key=lambda j: (-reach[j], j))
    if edges is not None and edges > len(s_all):
        s_x, d_x, k_x, secs_x = _extra_ties(w, extra_rng, edges - len(s_all), in_tree, s_all, d_all, k_all)
        s_all, d_all, k_all, secs = np.r_[s_all, s_x], np.r_[d_all, d_x], np.r_[k_all, k_x], np.r_[secs, secs_x]
    cols = {"from_customer_id": _lookup(w.acct_cid, s_all), "to_customer_id": _lookup(w.acct_cid, d_all),
            "kind": _lookup(_REF_KINDS, k_all), "occurred_at": clock.ts(secs)}
    return cols, [int(social[roots[j]]) for j in order], [reach[j] for j in order]


def _extra_ties(w: _World, rng: np.random.Generator, need: int, in_tree: np.ndarray, s_old: np.ndarray,
                d_old: np.ndarray, k_old: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``need`` more weak ties (mostly ``social_follow`` and ``mention``, 10 % ``referral``): from
    any account to an account outside every tree, between distinct persons, none repeating an
    existing (from, to, kind) edge. Uniform targets keep every account's in-degree small, so
    the planted influencers stay the most influential and referral reach stays tree-shaped."""
    a = len(w.acct_person)
    free = np.flatnonzero(~in_tree[w.acct_person])
    if len(free) == 0:
        raise InputError("influence_edges: no account outside the influencer trees to add ties to")
    code = lambda s, d, k: (s.astype(np.int64) * a + d) * 4 + k  # noqa: E731 - one (from, to, kind) key
    seen = set(code(s_old, d_old, k_old).tolist())
    out_s, out_d, out_k, got = [], [], [], 0
    for _ in range(50):
        m = int((need - got) * 1.2) + 16
        s = rng.integers(a, size=m)
        d = free[rng.integers(len(free), size=m)]
        k = rng.choice(4, size=m, p=[0.1, 0.6, 0.0, 0.3])
        ok = w.acct_person[s] != w.acct_person[d]
        s, d, k = s[ok], d[ok], k[ok]
        _, first = np.unique(code(s, d, k), return_index=True)
        first = np.sort(first)
        s, d, k = s[first], d[first], k[first]
        fresh = np.fromiter((c not in seen for c in code(s, d, k).tolist()), bool, len(s))
        s, d, k = s[fresh][: need - got], d[fresh][: need - got], k[fresh][: need - got]
        seen.update(code(s, d, k).tolist())
        out_s.append(s)
        out_d.append(d)
        out_k.append(k)
        got += len(s)
        if got == need:
            break
    else:
        raise InputError(f"influence_edges: could only place {got:,} of {need:,} extra ties (too few accounts)")
    secs = w.clock.start_sec + rng.integers(0, w.clock.days, size=need) * 86400 + rng.integers(8 * 3600, 22 * 3600, need)
    return np.concatenate(out_s), np.concatenate(out_d), np.concatenate(out_k), secs


def generate(out_dir: Path | str, *, customers: int = 1000, seed: int = 0, malformed: bool = True,
             transactions_per_customer: float = 10.0, communities: int = 8, products: int | None = None,
             influencers: int | None = None, influence_edges: int | None = None,
             taste_strength: float = 0.8) -> GenerationTruth:
    """Write a synthetic data set (every contract CSV plus ``truth.json``) into `out_dir`.

    Parameters
    ----------
    customers : number of source accounts (rows of customers.csv before planted bad rows).
    seed : same seed, byte-identical files.
    malformed : plant a few contract-breaking rows and exact duplicates per file.
    transactions_per_customer : average purchase lines per account.
    communities : taste communities (look-alike groups) to plant.
    products : catalogue size; default ``min(5000, max(50, customers // 20))``.
    influencers : planted strong influencers; default ``max(3, customers // 2000)``.
    influence_edges : exact number of valid rows in referrals.csv (default: what the trees and
        the sparse background make, about 0.57 per account). More adds weak random ties
        (mostly ``social_follow`` / ``mention``, never into a tree), fewer leaves out part of the
        background; the planted trees are always complete, so the influencers stay on top.
    taste_strength : share of purchase lines drawn from the buyer's taste community (the rest
        from global popularity); product views use ``taste_strength + 0.05`` (at most 1). It
        bounds what any recommender can learn: docs/recommendations.md measures the hit-rate
        lift over popularity that knowing each person's true community gives.

    Returns the planted truth (also written to ``truth.json``).
    """
    if customers < 10:
        raise InputError("customers must be at least 10")
    if communities < 1:
        raise InputError("communities must be at least 1")
    n_prod = products if products is not None else min(5000, max(50, customers // 20))
    if n_prod < 2 * communities:
        raise InputError(f"products ({n_prod}) must be at least twice the number of communities ({communities})")
    if not 0.0 <= taste_strength <= 1.0:
        raise InputError(f"taste_strength must be between 0 and 1, got {taste_strength}")
    if transactions_per_customer < 0:
        raise InputError("transactions_per_customer must not be negative")
    n_infl = influencers if influencers is not None else max(3, customers // 2000)
    if influence_edges is not None and influence_edges < 0:
        raise InputError("influence_edges must not be negative")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 0])
    end_day = _BASE_END + np.timedelta64(int(seed * 7919 % 365), "D")
    clock = _Clock(end_day)
    truth = GenerationTruth(start_date=str(clock.start_day), end_date=str(end_day),
                            params={"customers": customers, "seed": seed, "malformed": malformed,
                                    "transactions_per_customer": transactions_per_customer, "communities": communities,
                                    "products": n_prod, "influencers": n_infl}
                                    | ({} if influence_edges is None else {"influence_edges": influence_edges})
                                    | ({} if taste_strength == 0.8 else {"taste_strength": taste_strength}))
    plant_rng = np.random.default_rng([seed, 99])
    writers = {name: _Writer(out, name, plant_rng, truth, malformed) for name in COLUMNS}

    # products and taste
    prod_cols, prod = _products(rng, n_prod, communities)
    pop = 1.0 / (1 + rng.permutation(n_prod)) ** 0.8  # global popularity skew
    by_comm = np.lexsort((-pop, prod["comm"]))
    group_off = np.concatenate([[0], np.cumsum(np.bincount(prod["comm"], minlength=communities))])
    gw = 1.0 / (1 + np.arange(n_prod) - group_off[prod["comm"][by_comm]]) ** 0.7
    gsum = np.add.reduceat(gw, group_off[:-1])
    gcdf = np.cumsum(gw) - np.repeat(np.concatenate([[0], np.cumsum(gsum)[:-1]]), np.diff(group_off))
    group_cdf = gcdf / np.repeat(gsum, np.diff(group_off)) + prod["comm"][by_comm]
    writers["products"].write(prod_cols)
    writers["channels"].write({"channel_id": [c[0] for c in _CHANNELS], "name": [c[1] for c in _CHANNELS],
                               "kind": [c[2] for c in _CHANNELS]})
    n_camp = max(10, min(300, customers // 300))
    camp_cols, camp = _campaigns(rng, n_camp, clock, prod["comm"], by_comm, group_off, communities, prod_cols["category"])
    camp_cols["offer_product_id"] = _null_where(_lookup(prod_cols["product_id"], np.maximum(camp["offer"], 0)), camp["offer"] < 0)
    writers["campaigns"].write(camp_cols)

    # people
    n_persons, k, acct_start, acct_person, pos, acct_source, src_acct, comm, win_lo, win_hi = _build_people(customers, communities, rng, clock)
    w = _World(clock=clock, n_persons=n_persons, k=k, acct_start=acct_start, acct_person=acct_person, acct_source=acct_source,
               acct_cid=pa.array([], pa.string()), src_acct=src_acct, comm=comm, win_lo=win_lo, win_hi=win_hi,
               optout=rng.random(customers) < 0.12, prod_ids=prod_cols["product_id"], prod_price=prod["price"],
               prod_kind=prod["is_product"], prod_comm=prod["comm"], group_cdf=group_cdf, group_prod=by_comm,
               global_cdf=np.cumsum(pop) / pop.sum(), camp_ids=camp_cols["campaign_id"], camp_channel=camp["channel"],
               camp_offer=camp["offer"], camp_lo=camp["lo"], camp_hi=camp["hi"], camp_weight=camp["weight"],
               taste=taste_strength)
    cust_cols, _ = _customer_table(rng, w, pos, clock)
    step = 250_000
    for s in range(0, customers, step):
        writers["customers"].write({c: v.slice(s, step) for c, v in cust_cols.items()})
    del cust_cols
    ref_cols, infl_accts, infl_reach = _referrals(w, np.random.default_rng([seed, 1]), n_infl, influence_edges,
                                                  np.random.default_rng([seed, 3]))

    # events, one block of persons at a time
    ctr = {"touch": 0, "order": 0, "transaction": 0, "ticket": 0, "interaction": 0}
    for b, p0 in enumerate(range(0, n_persons, _BLOCK)):
        ev = _block_events(w, np.random.default_rng([seed, 2, b]), p0, min(p0 + _BLOCK, n_persons),
                           transactions_per_customer, ctr, b == 0)
        for name in ["preferences", "campaign_touches", "transactions", "tickets", "interactions"]:
            writers[name].write(ev[name])
    writers["referrals"].write(ref_cols)

    # truth
    cid = w.acct_cid.to_pylist()
    pkeys = [f"P{i + 1:07d}" for i in range(n_persons)]
    truth.persons = {pkeys[i]: cid[int(acct_start[i]):int(acct_start[i] + k[i])] for i in range(n_persons)}
    truth.community_of = dict(zip(cid, comm[acct_person].tolist()))
    pid = prod_cols["product_id"].to_pylist()
    truth.community_products = {c: [pid[j] for j in by_comm[group_off[c]:group_off[c + 1]]] for c in range(communities)}
    truth.influencers = [cid[a] for a in infl_accts]
    truth.influencer_reach = infl_reach
    truth.malformed.sort(key=lambda m: (FILES.index(m["file"]), m["row"]))
    truth.counts = {f: truth.counts.get(f, 0) for f in FILES}
    with open(out / "truth.json", "w", encoding="utf-8") as fh:
        json.dump(asdict(truth), fh, separators=(",", ":"))
    return truth


def load_truth(directory: Path | str) -> GenerationTruth:
    """Read ``truth.json`` written by :func:`generate` back into a :class:`GenerationTruth`."""
    path = Path(directory) / "truth.json"
    if not path.is_file():
        raise InputError(f"{path}: no truth.json (was this folder made by the generator?)")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["community_products"] = {int(c): v for c, v in data.get("community_products", {}).items()}
    return GenerationTruth(**data)
