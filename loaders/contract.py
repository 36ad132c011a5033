"""The input data contract (v1) as data: files, columns, types, enums and references.

One table drives reading, validation and writing, so the contract lives in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Column", "FileSpec", "CONTRACT", "LOAD_ORDER", "ENUMS", "INFLUENCE_TYPES", "SEVERITY_RANK", "DERIVED", "STORED_COLUMNS",
]

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}

ENUMS: dict[str, frozenset[str]] = {
    "product_kind": frozenset({"product", "policy", "plan", "service"}),
    "channel_kind": frozenset({"web", "mobile", "store", "call_center", "email", "sms", "social", "partner"}),
    "campaign_kind": frozenset({"acquisition", "upsell", "cross_sell", "retention", "loyalty"}),
    "response": frozenset({"none", "opened", "clicked", "accepted", "rejected"}),
    "severity": frozenset(SEVERITY_RANK),
    "status": frozenset({"open", "pending", "resolved", "closed"}),
    "referral_kind": frozenset({"referral", "social_follow", "household", "mention"}),
}

INFLUENCE_TYPES: dict[str, str] = {
    "referral": "REFERRED",
    "social_follow": "FOLLOWS",
    "household": "HOUSEHOLD",
    "mention": "MENTIONED",
}
"""Referral kind -> relationship type: a fixed list, never user text."""


@dataclass(frozen=True)
class Column:
    """One contract column: ``kind`` is text, date (date or date-time), number, int, or enum:<name>."""

    name: str
    required: bool = False
    kind: str = "text"
    ref: str | None = None  # file whose key this column must name
    ts: str | None = None  # name of the epoch-seconds twin for dates
    lower: bool = False  # stored lower-case (enums)
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class FileSpec:
    """A contract file: its columns, its key and the node label its rows become."""

    name: str
    label: str | None
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    notes: str = ""
    _by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def required(self) -> list[str]:
        """Columns a file must have and a row must fill."""
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column | None:
        """The contract column called ``name`` (None for an extra column)."""
        return self._by_name.get(name)


def _c(name: str, *flags: str, kind: str = "text", ref: str | None = None, ts: str | None = None, **kw: float) -> Column:
    return Column(name, required="*" in flags, kind=kind, ref=ref, ts=ts, lower=kind.startswith("enum:"), **kw)


CONTRACT: dict[str, FileSpec] = {
    spec.name: spec
    for spec in [
        FileSpec("channels", "Channel", ("channel_id",), (
            _c("channel_id", "*"), _c("name", "*"), _c("kind", kind="enum:channel_kind"))),
        FileSpec("products", "Product", ("product_id",), (
            _c("product_id", "*"), _c("name", "*"), _c("category"), _c("price", kind="number"),
            _c("kind", kind="enum:product_kind"))),
        FileSpec("campaigns", "Campaign", ("campaign_id",), (
            _c("campaign_id", "*"), _c("name", "*"), _c("kind", kind="enum:campaign_kind"),
            _c("channel_id", ref="channels"), _c("offer_product_id", ref="products"),
            _c("start_date", kind="date", ts="start_ts"), _c("end_date", kind="date", ts="end_ts"))),
        FileSpec("customers", "Customer", ("customer_id",), (
            _c("customer_id", "*"), _c("source", "*"), _c("name"), _c("email"), _c("phone"), _c("city"),
            _c("country"), _c("birth_date", kind="date", ts="birth_ts"), _c("signup_date", kind="date", ts="signup_ts"),
            _c("loyalty_id"))),
        FileSpec("tickets", "Ticket", ("ticket_id",), (
            _c("ticket_id", "*"), _c("customer_id", "*", ref="customers"), _c("opened_at", "*", kind="date", ts="opened_ts"),
            _c("severity", "*", kind="enum:severity"), _c("status", "*", kind="enum:status"),
            _c("channel_id", ref="channels"), _c("topic"), _c("product_id", ref="products"),
            _c("closed_at", kind="date", ts="closed_ts"), _c("satisfaction", kind="int", min=1, max=5))),
        FileSpec("transactions", "Transaction", ("transaction_id",), (
            _c("transaction_id", "*"), _c("customer_id", "*", ref="customers"),
            _c("occurred_at", "*", kind="date", ts="ts"), _c("amount", "*", kind="number"),
            _c("product_id", ref="products"), _c("quantity", kind="int"), _c("channel_id", ref="channels"),
            _c("order_id"))),
        FileSpec("campaign_touches", "Touch", ("touch_id",), (
            _c("touch_id", "*"), _c("customer_id", "*", ref="customers"), _c("campaign_id", "*", ref="campaigns"),
            _c("sent_at", "*", kind="date", ts="sent_ts"), _c("channel_id", ref="channels"),
            _c("response", kind="enum:response"), _c("responded_at", kind="date", ts="responded_ts"))),
        FileSpec("interactions", "Interaction", ("interaction_id",), (
            _c("interaction_id", "*"), _c("customer_id", "*", ref="customers"),
            _c("occurred_at", "*", kind="date", ts="ts"), _c("channel_id", "*", ref="channels"), _c("kind", "*"),
            _c("reason"), _c("product_id", ref="products"), _c("campaign_id", ref="campaigns"),
            _c("ticket_id", ref="tickets"), _c("sentiment", kind="number"), _c("text"))),
        FileSpec("referrals", None, ("from_customer_id", "to_customer_id", "kind"), (
            _c("from_customer_id", "*", ref="customers"), _c("to_customer_id", "*", ref="customers"),
            _c("kind", kind="enum:referral_kind"), _c("occurred_at", kind="date", ts="ts")),
            notes="an empty kind means referral"),
        FileSpec("preferences", "Preference", ("customer_id", "key"), (
            _c("customer_id", "*", ref="customers"), _c("key", "*"), _c("value", "*"))),
    ]
}

LOAD_ORDER: tuple[str, ...] = (
    "channels", "products", "campaigns", "customers", "tickets",
    "transactions", "campaign_touches", "interactions", "referrals", "preferences",
)
"""Files load in this order so every reference names something already loaded."""

assert set(LOAD_ORDER) == set(CONTRACT)

DERIVED: dict[str, tuple[str, ...]] = {
    "tickets": ("severity_rank",),
    "preferences": ("preference_id",),
}
"""Properties the loader computes from other columns, for queries that sort or join on them."""

STORED_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(
        [n for c in spec.columns for n in (c.name, c.ts) if n is not None] + list(DERIVED.get(name, ()))
    )
    for name, spec in CONTRACT.items()
}
"""File -> every property a row of it can become, in a fixed order (contract columns, their
epoch-seconds twins, derived values); extra input columns come on top, as a map."""

