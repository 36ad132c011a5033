"""Identity resolution: link source accounts that share a normalised email, phone or loyalty id.

Links are transitive (A~B by email, B~C by phone: one person). A person's id is
``p-<smallest customer_id among its accounts>``, so the same accounts always give the same
person, and re-running after new data merges persons or keeps them as they are. Only the
difference between the graph and the computed answer is written, so a second run writes
nothing and an interrupted run is completed by the next one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from graph.backend import GraphBackend
from queries.identity import (
    ACCOUNT_PAGE,
    DELETE_PERSONS,
    LINK_ACCOUNTS,
    PERSON_PAGE,
    UNLINK_OTHER_PERSONS,
    UPSERT_PERSONS,
)

__all__ = ["normalise_email", "normalise_phone", "normalise_loyalty", "resolve", "resolve_identities", "IdentityReport", "RULES"]

RULES = ("email", "phone", "loyalty_id")
_MATCHED_WITH_CAP = 20


def normalise_email(value: object) -> str:
    """Stripped and lower-cased; empty when there is no usable address."""
    text = str(value or "").strip().lower()
    return text if "@" in text else ""


def normalise_phone(value: object) -> str:
    """Digits only, the last 10 (so ``+1 555-010-1234`` and ``(555) 010 1234`` agree); under 7 digits is no phone."""
    digits = "".join(ch for ch in str(value or "") if ch.isdigit())
    digits = digits[-10:]
    return digits if len(digits) >= 7 else ""


def normalise_loyalty(value: object) -> str:
    """Stripped and upper-cased."""
    return str(value or "").strip().upper()


_NORMALISE = {"email": normalise_email, "phone": normalise_phone, "loyalty_id": normalise_loyalty}


@dataclass(frozen=True)
class Account:
    """What identity resolution needs of an account."""

    customer_id: str
    email: object = None
    phone: object = None
    loyalty_id: object = None


@dataclass(frozen=True)
class Link:
    """An account's place in a person, and why."""

    person_id: str
    rules: tuple[str, ...]
    matched_with: tuple[str, ...]


@dataclass(frozen=True)
class IdentityReport:
    """What a resolution run found and changed."""

    accounts: int
    persons: int
    linked_accounts: int  # accounts in a person of two or more
    links_written: int
    persons_deleted: int


def resolve(accounts: Iterable[Account]) -> dict[str, Link]:
    """Group accounts into persons (pure function: the graph is not touched)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            parent[rb] = ra

    holders: dict[tuple[str, str], list[str]] = defaultdict(list)
    for acc in accounts:
        parent.setdefault(acc.customer_id, acc.customer_id)
        for rule in RULES:
            value = _NORMALISE[rule](getattr(acc, rule))
            if value:
                holders[(rule, value)].append(acc.customer_id)
    rules: dict[str, set[str]] = defaultdict(set)
    partners: dict[str, set[str]] = defaultdict(set)
    for (rule, _), ids in holders.items():
        if len(ids) < 2:
            continue
        for cid in ids:
            rules[cid].add(rule)
            union(ids[0], cid)
        if len(ids) <= _MATCHED_WITH_CAP + 1:
            for cid in ids:
                partners[cid].update(i for i in ids if i != cid)
        else:  # a shared value held by very many accounts: keep the list short
            head = ids[: _MATCHED_WITH_CAP + 1]
            for cid in ids:
                partners[cid].update(i for i in head if i != cid)
    links: dict[str, Link] = {}
    for cid in parent:
        root = find(cid)  # the smallest id of the component (union keeps the smaller root)
        links[cid] = Link(
            person_id=f"p-{root}",
            rules=tuple(r for r in RULES if r in rules[cid]),
            matched_with=tuple(sorted(partners[cid])[:_MATCHED_WITH_CAP]),
        )
    return links


def resolve_identities(graph: GraphBackend, *, batch_size: int = 5_000, page_size: int = 20_000) -> IdentityReport:
    """Resolve every account in the graph and write only what differs from the graph."""
    accounts: list[Account] = []
    current: dict[str, list[Link]] = {}
    for row in graph.stream(ACCOUNT_PAGE, key="key", page_size=page_size):
        accounts.append(Account(row["key"], row.get("email"), row.get("phone"), row.get("loyalty_id")))
        current[row["key"]] = [
            Link(l["person_id"], tuple(l.get("rules") or ()), tuple(l.get("matched_with") or ()))
            for l in row["links"]
            if l.get("person_id") is not None
        ]
    wanted = resolve(accounts)
    sizes: dict[str, int] = defaultdict(int)
    for link in wanted.values():
        sizes[link.person_id] += 1
    existing = {row["key"]: row.get("size") for row in graph.stream(PERSON_PAGE, key="key", page_size=page_size)}

    person_rows = [{"person_id": p, "size": n} for p, n in sorted(sizes.items()) if existing.get(p) != n]
    changed = [
        {"customer_id": cid, "person_id": link.person_id, "rules": list(link.rules), "matched_with": list(link.matched_with)}
        for cid, link in sorted(wanted.items())
        if current.get(cid) != [link]
    ]
    stale = sorted(set(existing) - set(sizes))
    for rows in _batches(person_rows, batch_size):
        graph.write(UPSERT_PERSONS, {"rows": rows})
    for rows in _batches(changed, batch_size):
        graph.write(UNLINK_OTHER_PERSONS, {"rows": rows})
        graph.write(LINK_ACCOUNTS, {"rows": rows})
    for ids in _batches(stale, batch_size):
        graph.write(DELETE_PERSONS, {"ids": ids})
    return IdentityReport(
        accounts=len(wanted),
        persons=len(sizes),
        linked_accounts=sum(n for n in sizes.values() if n > 1),
        links_written=len(changed),
        persons_deleted=len(stale),
    )


def _batches(rows: list, size: int) -> Iterable[list]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
