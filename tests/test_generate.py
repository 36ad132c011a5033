"""The synthetic generator: deterministic, contract-shaped, and its planted truth is really there.

Every expectation is recomputed here from the written CSV files with pandas / plain Python /
NetworkX, independently of the generator's own code.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from graph.errors import InputError
from loaders.generate import generate, load_truth

REQUIRED = {
    "customers": ["customer_id", "source"],
    "products": ["product_id", "name"],
    "channels": ["channel_id", "name"],
    "campaigns": ["campaign_id", "name"],
    "campaign_touches": ["touch_id", "customer_id", "campaign_id", "sent_at"],
    "transactions": ["transaction_id", "customer_id", "occurred_at", "amount"],
    "interactions": ["interaction_id", "customer_id", "occurred_at", "channel_id", "kind"],
    "tickets": ["ticket_id", "customer_id", "opened_at", "severity", "status"],
    "referrals": ["from_customer_id", "to_customer_id"],
    "preferences": ["customer_id", "key", "value"],
}
ENUMS = {
    ("products", "kind"): {"product", "policy", "plan", "service"},
    ("channels", "kind"): {"web", "mobile", "store", "call_center", "email", "sms", "social", "partner"},
    ("campaigns", "kind"): {"acquisition", "upsell", "cross_sell", "retention", "loyalty"},
    ("campaign_touches", "response"): {"none", "opened", "clicked", "accepted", "rejected"},
    ("tickets", "severity"): {"low", "medium", "high", "critical"},
    ("tickets", "status"): {"open", "pending", "resolved", "closed"},
    ("referrals", "kind"): {"referral", "social_follow", "household", "mention"},
}
DATES = {"customers": ["birth_date", "signup_date"], "campaigns": ["start_date", "end_date"],
         "campaign_touches": ["sent_at", "responded_at"], "transactions": ["occurred_at"], "interactions": ["occurred_at"],
         "tickets": ["opened_at", "closed_at"], "referrals": ["occurred_at"]}
NUMBERS = {"products": ["price"], "transactions": ["amount", "quantity"], "interactions": ["sentiment"], "tickets": ["satisfaction"]}
# (file, column) -> (referenced file, its key)
REFS = {
    ("campaigns", "channel_id"): ("channels", "channel_id"), ("campaigns", "offer_product_id"): ("products", "product_id"),
    ("campaign_touches", "customer_id"): ("customers", "customer_id"), ("campaign_touches", "campaign_id"): ("campaigns", "campaign_id"),
    ("campaign_touches", "channel_id"): ("channels", "channel_id"),
    ("transactions", "customer_id"): ("customers", "customer_id"), ("transactions", "product_id"): ("products", "product_id"),
    ("transactions", "channel_id"): ("channels", "channel_id"),
    ("interactions", "customer_id"): ("customers", "customer_id"), ("interactions", "channel_id"): ("channels", "channel_id"),
    ("interactions", "product_id"): ("products", "product_id"), ("interactions", "campaign_id"): ("campaigns", "campaign_id"),
    ("interactions", "ticket_id"): ("tickets", "ticket_id"),
    ("tickets", "customer_id"): ("customers", "customer_id"), ("tickets", "channel_id"): ("channels", "channel_id"),
    ("tickets", "product_id"): ("products", "product_id"),
    ("referrals", "from_customer_id"): ("customers", "customer_id"), ("referrals", "to_customer_id"): ("customers", "customer_id"),
    ("preferences", "customer_id"): ("customers", "customer_id"),
}


def _read(d: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(d / f"{name}.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    truth = generate(d, customers=1500, seed=7, communities=5)
    raw = {name: _read(d, name) for name in REQUIRED}
    bad = {}
    for m in truth.malformed:
        bad.setdefault(m["file"].removesuffix(".csv"), set()).add(m["row"] - 1)
    clean = {n: df.drop(index=sorted(bad.get(n, set()))).drop_duplicates() for n, df in raw.items()}
    return d, truth, raw, clean


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, customers=300, seed=3)
    generate(b, customers=300, seed=3)
    generate(c, customers=300, seed=4)
    names = [p.name for p in sorted(a.iterdir())]
    assert "truth.json" in names and len(names) == 11
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert mismatch == [] and errors == []
    assert not filecmp.cmp(a / "transactions.csv", c / "transactions.csv", shallow=False)


def test_every_file_has_the_contract_columns_and_counts_match(data):
    d, truth, raw, _ = data
    for name, cols in REQUIRED.items():
        assert set(cols) <= set(raw[name].columns), name
        assert truth.counts[f"{name}.csv"] == len(raw[name])
    assert load_truth(d).counts == truth.counts


def test_clean_rows_keep_the_contract(data):
    _, _, _, clean = data
    for name, cols in REQUIRED.items():
        assert (clean[name][cols] != "").all().all(), name
    for (name, col), allowed in ENUMS.items():
        values = set(clean[name][col]) - {""}
        assert values <= allowed and values, (name, col)
    for name, cols in DATES.items():
        for col in cols:
            v = clean[name][col]
            parsed = pd.to_datetime(v[v != ""], errors="coerce", format="ISO8601", utc=True)
            assert parsed.notna().all(), (name, col)
    for name, cols in NUMBERS.items():
        for col in cols:
            v = clean[name][col]
            assert pd.to_numeric(v[v != ""], errors="coerce").notna().all(), (name, col)
    assert clean["customers"]["customer_id"].is_unique
    assert clean["transactions"]["transaction_id"].is_unique


def test_references_of_clean_rows_resolve(data):
    _, _, _, clean = data
    for (name, col), (target, key) in REFS.items():
        v = clean[name][col]
        missing = set(v[v != ""]) - set(clean[target][key])
        assert not missing, (name, col, sorted(missing)[:3])


def test_malformed_rows_listed_in_truth_are_malformed(data):
    _, truth, raw, clean = data
    files = {m["file"] for m in truth.malformed}
    assert files == {f"{n}.csv" for n in REQUIRED}
    for m in truth.malformed:
        name = m["file"].removesuffix(".csv")
        value = raw[name].iloc[m["row"] - 1][m["field"]]
        if m["reason"] == "missing_required":
            assert value == "" and m["field"] in REQUIRED[name] + ["value"]
        elif m["reason"] == "bad_date":
            assert pd.isna(pd.to_datetime(value, errors="coerce", format="ISO8601")), value
        elif m["reason"] == "bad_number":
            assert pd.isna(pd.to_numeric(value, errors="coerce")), value
        elif m["reason"] == "unknown_enum":
            assert value not in ENUMS[(name, m["field"])]
        elif m["reason"] == "unknown_reference":
            target, key = REFS[(name, m["field"])]
            assert value != "" and value not in set(raw[target][key])
        else:
            pytest.fail(f"unexpected reason {m['reason']}")
    for f, n in truth.duplicates.items():
        assert raw[f.removesuffix(".csv")].duplicated().sum() == n


def _norm_phone(v: str) -> str:
    digits = "".join(ch for ch in v if ch.isdigit())
    return digits[-10:]


def test_identity_clusters_are_the_components_of_shared_keys(data):
    _, truth, _, clean = data
    cust = clean["customers"]
    parent = {c: c for c in cust["customer_id"]}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[tuple[str, str], str] = {}
    for row in cust.itertuples():
        keys = [("e", row.email.strip().lower()), ("p", _norm_phone(row.phone)), ("l", row.loyalty_id.strip())]
        for key in keys:
            if key[1] == "":
                continue
            if key in owner:
                parent[find(row.customer_id)] = find(owner[key])
            else:
                owner[key] = row.customer_id
    comps: dict[str, set[str]] = {}
    for c in parent:
        comps.setdefault(find(c), set()).add(c)
    expected = {frozenset(s) for s in comps.values()}
    assert {frozenset(v) for v in truth.persons.values()} == expected
    sizes = [len(v) for v in truth.persons.values()]
    assert max(sizes) == 3 and min(sizes) == 1
    # transitivity matters: some person has two accounts that share no key directly
    def keyset(r):
        return {k for k in [("e", r.email.strip().lower()), ("p", _norm_phone(r.phone)), ("l", r.loyalty_id)] if k[1]}
    rows = {r.customer_id: keyset(r) for r in cust.itertuples()}
    chains = [v for v in truth.persons.values() if len(v) == 3 and any(not (rows[a] & rows[b]) for a in v for b in v if a < b)]
    assert chains
    # the phone formats really vary
    assert cust["phone"].str.startswith("+1 ").any() and cust["phone"].str.startswith("(").any()
    assert (cust["email"] == "").any() and (cust["email"].str.strip() != cust["email"]).any()


def test_planted_influencers_have_the_largest_reach(data):
    _, truth, _, clean = data
    g = nx.from_pandas_edgelist(clean["referrals"], "from_customer_id", "to_customer_id", create_using=nx.DiGraph)
    reach = {n: len(nx.descendants(g, n)) for n in g}
    top = sorted(reach, key=lambda n: -reach[n])[: len(truth.influencers)]
    assert set(top) == set(truth.influencers)
    assert [reach[i] for i in truth.influencers] == sorted((reach[i] for i in truth.influencers), reverse=True)
    others = sorted((v for n, v in reach.items() if n not in truth.influencers), reverse=True)
    assert reach[truth.influencers[-1]] > 2 * others[0]
    # deep trees: some referee of an influencer refers others
    assert any(g.out_degree(c) > 0 for c in g.successors(truth.influencers[0]))


def test_purchases_and_offers_follow_the_communities(data):
    _, truth, _, clean = data
    tx = clean["transactions"]
    tx = tx[pd.to_numeric(tx["amount"]) > 0]
    tx = tx.assign(comm=tx["customer_id"].map(truth.community_of))
    share_base = {c: len(p) / sum(len(v) for v in truth.community_products.values()) for c, p in truth.community_products.items()}
    for c, prods in truth.community_products.items():
        mine = tx[tx["comm"] == c]
        share = mine["product_id"].isin(prods).mean()
        assert share > 0.6 and share > 3 * share_base[c], (c, share)
    touches = clean["campaign_touches"].merge(clean["campaigns"][["campaign_id", "offer_product_id"]], on="campaign_id")
    touches = touches[touches["offer_product_id"] != ""]
    prod_comm = {p: c for c, ps in truth.community_products.items() for p in ps}
    fit = touches["customer_id"].map(truth.community_of) == touches["offer_product_id"].map(prod_comm)
    accepted = touches["response"] == "accepted"
    assert accepted[fit].mean() > 4 * accepted[~fit].mean()


@pytest.mark.parametrize("strength", [0.3, 0.95])
def test_taste_strength_sets_the_share_of_community_purchases(tmp_path, strength):
    truth = generate(tmp_path, customers=1500, seed=3, malformed=False, taste_strength=strength)
    tx = _read(tmp_path, "transactions")
    tx = tx[(pd.to_numeric(tx["amount"]) > 0) & (tx["product_id"] != "")]
    own = {(c, p) for c, ps in truth.community_products.items() for p in ps}
    share = pd.Series([(truth.community_of[c], p) in own for c, p in zip(tx["customer_id"], tx["product_id"])]).mean()
    # a popularity draw lands in the buyer's community by chance about 1/8 of the time; accepted
    # offers (community favourites) add a little
    expected = strength + (1 - strength) / 8
    assert abs(share - expected) < 0.05, (share, expected)
    assert truth.params["taste_strength"] == strength
    with pytest.raises(InputError, match="taste_strength"):
        generate(tmp_path / "bad", customers=100, taste_strength=1.5)


def test_events_look_like_a_business(data):
    _, truth, _, clean = data
    tx = clean["transactions"]
    amounts = pd.to_numeric(tx["amount"])
    assert (amounts < 0).any() and (amounts < 0).mean() < 0.05
    when = pd.to_datetime(tx["occurred_at"], format="ISO8601", utc=True)
    assert when.max() <= pd.Timestamp(truth.end_date, tz="UTC") + pd.Timedelta(days=1)
    days = pd.date_range(truth.start_date, truth.end_date, freq="D")
    per_day = when.dt.month.value_counts() / pd.Series(days.month).value_counts()  # lines per calendar day
    assert per_day[12] > 1.3 * per_day[[2, 3, 4, 5, 6]].mean() and per_day[11] > per_day[2]
    lines = tx.groupby("customer_id").size()
    assert (lines == 1).any() and lines.max() > 5 * lines.median()
    assert tx.groupby("order_id").size().max() > 1
    tk = clean["tickets"]
    assert ((tk["severity"] == "critical") & (tk["status"] == "open")).sum() >= 3
    assert set(tk.loc[tk["satisfaction"] != "", "status"]) == {"closed"}
    assert set(pd.to_numeric(tk.loc[tk["satisfaction"] != "", "satisfaction"])) <= {1, 2, 3, 4, 5}
    inter = clean["interactions"]
    assert (inter["ticket_id"] != "").any() and (inter["campaign_id"] != "").any()
    views = inter[inter["kind"] == "product_view"]
    assert set(views["channel_id"]) == {"ch-web", "ch-mobile"}
    prefs = clean["preferences"]
    assert ((prefs["key"] == "marketing_opt_out") & (prefs["value"] == "true")).any()


def test_clean_mode_and_bad_arguments(tmp_path):
    truth = generate(tmp_path, customers=200, seed=1, malformed=False)
    assert truth.malformed == [] and truth.duplicates == {}
    assert len(_read(tmp_path, "customers")) == 200
    with pytest.raises(InputError):
        generate(tmp_path / "x", customers=200, products=5, communities=8)


# --- influence_edges: the referral file holds exactly the number asked for --------------------


def _clean_referrals(d: Path, truth) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = _read(d, "referrals")
    bad = {m["row"] - 1 for m in truth.malformed if m["file"] == "referrals.csv"}
    assert truth.counts["referrals.csv"] == len(raw)
    return raw, raw.drop(index=sorted(bad)).drop_duplicates()


def _pagerank_top(ref: pd.DataFrame, n: int) -> set[str]:
    weights = {"referral": 1.0, "household": 0.5, "mention": 0.3, "social_follow": 0.2}
    g = nx.DiGraph()
    for a, b, kind in ref[["from_customer_id", "to_customer_id", "kind"]].itertuples(index=False):
        w = g[b][a]["weight"] if g.has_edge(b, a) else 0.0
        g.add_edge(b, a, weight=w + weights[kind])  # influenced -> influencer
    pr = nx.pagerank(g, alpha=0.85, weight="weight")
    return set(sorted(pr, key=lambda c: -pr[c])[:n])


@pytest.mark.parametrize("factor", [3.0, 0.7])
def test_influence_edges_sets_the_referral_rows_and_keeps_the_influencers(data, tmp_path, factor):
    d0, truth0, _, clean0 = data
    default = len(clean0["referrals"])
    want = int(default * factor)
    truth = generate(tmp_path, customers=1500, seed=7, communities=5, influence_edges=want)
    raw, ref = _clean_referrals(tmp_path, truth)
    planted = sum(m["file"] == "referrals.csv" for m in truth.malformed) + truth.duplicates.get("referrals.csv", 0)
    assert len(ref) == want and len(raw) == want + planted
    assert truth.params["influence_edges"] == want
    assert not ref.duplicated(["from_customer_id", "to_customer_id", "kind"]).any()
    person = {c: p for p, accts in truth.persons.items() for c in accts}
    assert (ref["from_customer_id"].map(person) != ref["to_customer_id"].map(person)).all()
    assert set(ref["kind"]) <= ENUMS[("referrals", "kind")]
    # only the referral file changes
    for name in REQUIRED:
        if name != "referrals":
            assert filecmp.cmp(d0 / f"{name}.csv", tmp_path / f"{name}.csv", shallow=False), name
    # every tree edge is kept, so the planted influencers still top the weighted PageRank
    tree0 = set(clean0["referrals"].itertuples(index=False))
    assert set(truth.influencers) == set(truth0.influencers)
    assert _pagerank_top(ref, len(truth.influencers)) == set(truth.influencers)
    if factor > 1:  # the extra ties are added on top of the default rows and never point into a tree
        assert tree0 <= set(ref.itertuples(index=False))
        assert truth.influencers == truth0.influencers and truth.influencer_reach == truth0.influencer_reach
        extra = ref[[row not in tree0 for row in ref.itertuples(index=False)]]
        assert len(extra) == want - default
        assert not set(extra["to_customer_id"].map(person)) & {person[i] for i in truth.influencers}
        assert extra["kind"].isin(["referral", "social_follow", "mention"]).all()
    else:  # fewer: part of the background left out, nothing new
        assert set(ref.itertuples(index=False)) <= tree0


def test_influence_edges_below_the_trees_is_refused(tmp_path):
    with pytest.raises(InputError, match="influencer trees"):
        generate(tmp_path, customers=300, seed=1, influence_edges=5)
    with pytest.raises(InputError, match="negative"):
        generate(tmp_path, customers=300, seed=1, influence_edges=-1)


def test_generate_cli_influence_edges_option(cli_env, capsys, tmp_path):
    from cli.main import main

    assert main(["generate", str(tmp_path / "d"), "--customers", "300", "--seed", "2", "--clean",
                 "--influence-edges", "900"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert len(_read(tmp_path / "d", "referrals")) == 900
    assert load_truth(tmp_path / "d").params["influence_edges"] == 900
