"""The analytics database: its tables (SQLAlchemy Core), its versioned migrations and the
engine for a URL.

Tables come in three layers. ``hk_*`` hold the indexer's own state: the schema version,
the cursor (the last block written, with the chain it belongs to) and the validator sets
learnt from the chain. ``blocks``, ``txs``, ``receipts`` and ``events`` are the chain as
committed, one row per record. The rest are projections of the contracts' events
(households, proposals, votes, bills, ratings, service requests, token moves, culture
works, notices...): normalised facts the figures (analytics/figures.py) are views over.
Every row of a block is written in the same database transaction as the cursor that
passes it, so a crash leaves the database at a batch boundary.

Migrations are a list of numbered steps applied in order, each in its own transaction
together with its row in ``hk_schema``. A database of a newer version than this code
knows is refused rather than guessed at. A small table of versions, rather than Alembic,
because the schema ships inside the package and is applied by the node itself when it
runs the indexer in process: no migration scripts directory or env.py to install, and
the same steps run on SQLite and PostgreSQL through SQLAlchemy.

Time buckets (day, ISO week, month) are computed once at indexing in Shanghai time
(UTC+8, no daylight saving) and stored as text, so the views need no dialect's date
functions and group the same on both databases.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics.errors import DatabaseError

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
DB_FILE = "analytics.sqlite"
DISTRICT = "*"  # the whole district's scope in the rollups and the views

metadata = sa.MetaData()

# --- the indexer's own state ------------------------------------------------------------

hk_schema = sa.Table(
    "hk_schema", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_ms", sa.BigInteger, nullable=False),
)

hk_cursor = sa.Table(
    "hk_cursor", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("chain_id", sa.String(64), nullable=False),
    sa.Column("genesis_hash", sa.String(64), nullable=False),
    sa.Column("height", sa.BigInteger, nullable=False),
    sa.Column("block_hash", sa.String(64), nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
)

hk_validator_sets = sa.Table(
    "hk_validator_sets", metadata,
    sa.Column("effective_height", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("set_hash", sa.String(64), nullable=False),
    sa.Column("members", sa.Text, nullable=False),  # JSON [{public_key, name}]
)

# --- the chain as committed -------------------------------------------------------------

blocks = sa.Table(
    "blocks", metadata,
    sa.Column("height", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Column("state_root", sa.String(64), nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("proposer", sa.String(64), nullable=False),
    sa.Column("view", sa.BigInteger, nullable=False),
    sa.Column("tx_count", sa.Integer, nullable=False),
    sa.Column("signers", sa.Integer, nullable=False),
)

txs = sa.Table(
    "txs", metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("height", sa.BigInteger, nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("sender", sa.String(64), nullable=False),
    sa.Column("nonce", sa.BigInteger, nullable=False),
    sa.Column("contract", sa.String(64), nullable=False),
    sa.Column("method", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(130), nullable=False),  # "contract.method"
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("week", sa.String(8), nullable=False),
    sa.UniqueConstraint("height", "idx", name="uq_txs_position"),
)
sa.Index("ix_txs_day_kind", txs.c.day, txs.c.kind, txs.c.sender)
sa.Index("ix_txs_week_sender", txs.c.week, txs.c.sender, txs.c.status)

receipts = sa.Table(
    "receipts", metadata,
    sa.Column("tx_hash", sa.String(64), primary_key=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("gas_used", sa.BigInteger, nullable=False),
    sa.Column("fee", sa.BigInteger, nullable=False),
    sa.Column("result", sa.Text, nullable=True),  # JSON
    sa.Column("error_code", sa.String(64), nullable=False),
    # where the failure arose (a receipt holds no message: docs/CONTRACTS.md, "Errors")
    sa.Column("error_contract", sa.String(64), nullable=False),
    sa.Column("error_line", sa.Integer, nullable=False),
)

events = sa.Table(
    "events", metadata,
    sa.Column("height", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("tx_index", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ev_index", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("tx_hash", sa.String(64), nullable=False),
    sa.Column("contract", sa.String(64), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("fields", sa.Text, nullable=False),  # JSON, bytes as "0x…"
)
sa.Index("ix_events_name", events.c.contract, events.c.name)

# --- projections of the contracts' events -----------------------------------------------
# "committee" is the committee member's address that granted the resident role (or
# registered the household): the chain knows committees by their members' keys.

residents = sa.Table(
    "residents", metadata,
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("committee", sa.String(64), nullable=False),
    sa.Column("granted_ms", sa.BigInteger, nullable=False),
    sa.Column("revoked_ms", sa.BigInteger, nullable=True),
)

households = sa.Table(
    "households", metadata,
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("unit", sa.String(64), nullable=False),
    sa.Column("estate", sa.String(64), nullable=False),
    sa.Column("area_dm2", sa.BigInteger, nullable=False),
    sa.Column("committee", sa.String(64), nullable=False),
    sa.Column("registered_ms", sa.BigInteger, nullable=False),
    sa.Column("removed_ms", sa.BigInteger, nullable=True),
)

proposals = sa.Table(
    "proposals", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("category", sa.Integer, nullable=True),
    sa.Column("proposer", sa.String(64), nullable=False),
    sa.Column("committee", sa.String(64), nullable=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("created_height", sa.BigInteger, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("closes_height", sa.BigInteger, nullable=False),
    sa.Column("total_owners", sa.BigInteger, nullable=False),
    sa.Column("total_area", sa.BigInteger, nullable=False),
    sa.Column("voted_heads", sa.BigInteger, nullable=False),
    sa.Column("voted_area", sa.BigInteger, nullable=False),
    sa.Column("quorum_height", sa.BigInteger, nullable=True),
    sa.Column("quorum_ms", sa.BigInteger, nullable=True),
)

votes = sa.Table(
    "votes", metadata,
    sa.Column("proposal_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("voter", sa.String(64), primary_key=True),
    sa.Column("choice", sa.String(16), nullable=False),
    sa.Column("area_dm2", sa.BigInteger, nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
)

bills = sa.Table(
    "bills", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("household", sa.String(64), nullable=False),
    sa.Column("estate", sa.String(64), nullable=False),
    sa.Column("committee", sa.String(64), nullable=False),
    sa.Column("company", sa.String(64), nullable=False),
    sa.Column("period", sa.String(32), nullable=False),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("issued_ms", sa.BigInteger, nullable=False),
    sa.Column("paid_ms", sa.BigInteger, nullable=True),
    sa.Column("method", sa.String(32), nullable=True),
)

# Added in migration 3; a fresh database gets it with the tables of step 1 already.
ix_bills_household = sa.Index("ix_bills_household", bills.c.household, bills.c.id)

ratings = sa.Table(
    "ratings", metadata,
    # kind "property": subject = company, ref = period; kind "service": subject = provider,
    # category = the request's, ref = request id. Rating again replaces.
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("ref", sa.String(64), primary_key=True),
    sa.Column("rater", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("committee", sa.String(64), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("month", sa.String(7), nullable=False),
)

service_requests = sa.Table(
    "service_requests", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("requester", sa.String(64), nullable=False),
    sa.Column("committee", sa.String(64), nullable=False),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("budget", sa.BigInteger, nullable=False),
    sa.Column("requested_ms", sa.BigInteger, nullable=False),
    sa.Column("first_offer_ms", sa.BigInteger, nullable=True),
    sa.Column("provider", sa.String(64), nullable=True),
    sa.Column("accepted_ms", sa.BigInteger, nullable=True),
    sa.Column("completed_ms", sa.BigInteger, nullable=True),
    sa.Column("disputed_ms", sa.BigInteger, nullable=True),
    sa.Column("cancelled_ms", sa.BigInteger, nullable=True),
)

token_moves = sa.Table(
    "token_moves", metadata,
    sa.Column("height", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("tx_index", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ev_index", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(16), nullable=False),  # mint, transfer, burn, fee
    sa.Column("src", sa.String(64), nullable=True),
    sa.Column("dst", sa.String(64), nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    # mint: the minting contract and, for activities, "activities:<kind>"
    sa.Column("source", sa.String(80), nullable=True),
    sa.Column("at_merchant", sa.Boolean, nullable=False),
    sa.Column("committee", sa.String(64), nullable=True),  # of the resident spending or earning
    sa.Column("month", sa.String(7), nullable=False),
)
sa.Index("ix_token_moves_month", token_moves.c.month, token_moves.c.kind)

activities = sa.Table(
    "activities", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("organiser", sa.String(64), nullable=False),
)

works = sa.Table(
    "works", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("creator", sa.String(64), nullable=False),
    sa.Column("committee", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("month", sa.String(7), nullable=False),
)

likes = sa.Table(
    "likes", metadata,
    sa.Column("work_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("liker", sa.String(64), primary_key=True),
    sa.Column("month", sa.String(7), nullable=False),
)

notices = sa.Table(
    "notices", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("posted_ms", sa.BigInteger, nullable=False),
)

notice_audience = sa.Table(
    # Per notice and committee ("*": the district): residents when it was posted, and how
    # many of them acknowledged it since.
    "notice_audience", metadata,
    sa.Column("notice_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("committee", sa.String(64), primary_key=True),
    sa.Column("residents", sa.BigInteger, nullable=False),
    sa.Column("readers", sa.BigInteger, nullable=False),
)

notice_reads = sa.Table(
    "notice_reads", metadata,
    sa.Column("notice_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("resident", sa.String(64), primary_key=True),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
)


# --- rollups: what the dashboard reads, kept up to date in each batch -----------------------
# Each figure that would scan the whole chain reads a small table of sums per bucket instead
# (agg_*); the matching seen_* table holds who has been counted in a bucket already, so a
# distinct count (of senders, residents, accounts) can be kept exactly as rows arrive. A
# bucket column comes first in each key: a batch loads only the buckets it continues.

def _rollup(name: str, bucket: str, keys: tuple[str, ...], person: str, count: str,
            sums: tuple[str, ...]) -> tuple[sa.Table, sa.Table]:
    agg = sa.Table(
        f"agg_{name}", metadata,
        sa.Column(bucket, sa.String(10), primary_key=True),
        sa.Column("committee", sa.String(64), primary_key=True),
        *(sa.Column(k, sa.String(130), primary_key=True) for k in keys),
        sa.Column(count, sa.BigInteger, nullable=False),
        *(sa.Column(c, sa.BigInteger, nullable=False) for c in sums),
    )
    seen = sa.Table(
        f"seen_{name}", metadata,
        sa.Column(bucket, sa.String(10), primary_key=True),
        sa.Column("committee", sa.String(64), primary_key=True),
        *(sa.Column(k, sa.String(130), primary_key=True) for k in keys),
        sa.Column(person, sa.String(64), primary_key=True),
    )
    return agg, seen


agg_txs_day, seen_txs_day = _rollup("txs_day", "day", ("kind",), "sender", "senders", ("txs",))
agg_active_week, seen_active_week = _rollup("active_week", "week", (), "sender", "residents", ())
agg_points_month, seen_points_month = _rollup(
    "points_month", "month", (), "account", "people",
    ("minted", "burned", "spent", "at_merchants", "volume", "fees"))
agg_points_source, seen_points_source = _rollup(
    "points_source", "month", ("source",), "account", "earners", ("minted", "mints"))
agg_culture_month, seen_culture_month = _rollup("culture_month", "month", (), "who", "people", ("works", "likes"))
# By the bill's month (its period), which may lie before the blocks that issue or pay it:
# this one loads what it continues key by key.
agg_fees_month, seen_fees_month = _rollup("fees_month", "month", ("estate",), "household", "households",
                                          ("bills", "billed", "paid"))


# The dashboard reads one committee's rows (or the district's) in key order.
ix_agg_txs_day_committee = sa.Index("ix_agg_txs_day_committee", agg_txs_day.c.committee, agg_txs_day.c.day,
                                    agg_txs_day.c.kind)
# Arrears read the unpaid bills.
ix_bills_unpaid = sa.Index("ix_bills_unpaid", bills.c.paid_ms, bills.c.committee, bills.c.estate)
# One committee's satisfaction and service requests read only its own ratings and requests.
ix_ratings_committee = sa.Index("ix_ratings_committee", ratings.c.committee)
ix_requests_committee = sa.Index("ix_requests_committee", service_requests.c.committee)


# --- time buckets -------------------------------------------------------------------------


def local_time(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(SHANGHAI)


def day_of(ts_ms: int) -> str:
    return local_time(ts_ms).strftime("%Y-%m-%d")


def week_of(ts_ms: int) -> str:
    year, week, _ = local_time(ts_ms).isocalendar()
    return f"{year:04d}-W{week:02d}"


def month_of(ts_ms: int) -> str:
    return local_time(ts_ms).strftime("%Y-%m")


# --- engine and migrations ----------------------------------------------------------------


def default_url(home: Path) -> str:
    """The default database: an SQLite file in the node's home."""
    return f"sqlite:///{(home / DB_FILE).resolve()}"


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    # WAL lets the stats API read while the indexer writes; synchronous=FULL makes each
    # committed batch durable, which the cursor's promise (nothing lost) rests on.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``sqlite:///path`` or ``postgresql://…`` (psycopg 3)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        backend = sa.engine.make_url(url).get_backend_name()
    except (sa.exc.ArgumentError, ValueError):
        raise DatabaseError("not a database URL: give sqlite:///FILE or postgresql://USER@HOST/DB") from None
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseError(f"unsupported database {backend!r}: use sqlite or postgresql")
    try:
        engine = sa.create_engine(url, future=True, pool_pre_ping=True)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError, ValueError) as exc:
        raise DatabaseError(f"cannot use the database URL: {exc}") from None
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


Migration = Callable[[Connection], None]


def _v1_tables(conn: Connection) -> None:
    metadata.create_all(conn)


def _v2_views(conn: Connection) -> None:
    # The views are rebuilt from the code after every migration run (migrate below).
    return None


def _v3_bill_index(conn: Connection) -> None:
    # A rating names its household's company: the household's latest bill.
    ix_bills_household.create(conn, checkfirst=True)


# Service requests per committee (and "*") and category (and "*"), without a time bucket: a
# request is counted once, and its offer, completion and dispute are added to it as they
# come (the indexer reads the request's row first, so each is counted once and exactly).
agg_requests = sa.Table(
    "agg_requests", metadata,
    sa.Column("committee", sa.String(64), primary_key=True),
    sa.Column("category", sa.String(64), primary_key=True),
    sa.Column("requesters", sa.BigInteger, nullable=False),
    *(sa.Column(c, sa.BigInteger, nullable=False)
      for c in ("requests", "offered", "to_offer_ms", "completed", "to_complete_ms", "disputed")),
)
seen_requests = sa.Table(
    "seen_requests", metadata,
    sa.Column("committee", sa.String(64), primary_key=True),
    sa.Column("category", sa.String(64), primary_key=True),
    sa.Column("requester", sa.String(64), primary_key=True),
)

# Satisfaction per committee (and "*"), kind, subject (a property company, or a service
# category) and month, and one committee's turnout per owners' proposal. A rating again
# replaces the earlier one (which may lie in another month), and a household's area, removal
# or registration again changes the electorates of proposals already made, so these two are
# not sums that only grow: the indexer recounts the buckets a batch touched (the months of
# the ratings it wrote or replaced, the proposals it created or saw voted on, and those a
# household's change reaches) from the rows of the same transaction (refresh_* below).
agg_satisfaction = sa.Table(
    "agg_satisfaction", metadata,
    sa.Column("committee", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("subject", sa.String(64), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("raters", sa.BigInteger, nullable=False),
    sa.Column("ratings", sa.BigInteger, nullable=False),
    sa.Column("score_sum", sa.BigInteger, nullable=False),
)
agg_turnout = sa.Table(
    "agg_turnout", metadata,
    sa.Column("committee", sa.String(64), primary_key=True),
    sa.Column("proposal_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("total_owners", sa.BigInteger, nullable=False),
    sa.Column("total_area_dm2", sa.BigInteger, nullable=False),
    sa.Column("voted_heads", sa.BigInteger, nullable=False),
    sa.Column("voted_area_dm2", sa.BigInteger, nullable=False),
)
# A batch recounts the satisfaction of the months it touched.
ix_ratings_month = sa.Index("ix_ratings_month", ratings.c.month)

ROLLUPS = (notice_audience, agg_txs_day, seen_txs_day, agg_active_week, seen_active_week, agg_points_month,
           seen_points_month, agg_points_source, seen_points_source, agg_culture_month, seen_culture_month,
           agg_fees_month, seen_fees_month, agg_requests, seen_requests, agg_satisfaction, agg_turnout)


def _v4_rollups(conn: Connection) -> None:
    # The rollups count from block 0: empty the derived tables and the cursor, so the
    # indexer writes the chain again (all of it derives from verified blocks).
    for view in _view_names():
        conn.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
    for table in ROLLUPS:
        table.create(conn, checkfirst=True)
    for table in reversed(metadata.sorted_tables):
        if table is not hk_schema:
            conn.execute(sa.delete(table))


def _v7_indexes(conn: Connection) -> None:
    ix_agg_txs_day_committee.create(conn, checkfirst=True)
    ix_bills_unpaid.create(conn, checkfirst=True)


def _v8_indexes(conn: Connection) -> None:
    ix_ratings_committee.create(conn, checkfirst=True)
    ix_requests_committee.create(conn, checkfirst=True)


def _v9_request_rollup(conn: Connection) -> None:
    # Filled from the service_requests already indexed, with the sums the view took before.
    agg_requests.create(conn, checkfirst=True)
    seen_requests.create(conn, checkfirst=True)
    r = service_requests
    sums = (sa.func.count(), sa.func.count(r.c.first_offer_ms),
            sa.func.coalesce(sa.func.sum(r.c.first_offer_ms - r.c.requested_ms), 0),
            sa.func.count(r.c.completed_ms),
            sa.func.coalesce(sa.func.sum(r.c.completed_ms - r.c.requested_ms), 0),
            sa.func.count(r.c.disputed_ms))
    district = sa.literal("*", sa.String(64))  # the district's scope, as in the views
    cols = [c.name for c in agg_requests.columns]
    for committee, category in ((r.c.committee, r.c.category), (district, r.c.category), (district, district)):
        group = [c for c in (committee, category) if c is not district]
        people = sa.select(committee.label("committee"), category.label("category"), r.c.requester).distinct()
        conn.execute(sa.insert(seen_requests).from_select(["committee", "category", "requester"], people))
        sel = sa.select(committee, category, sa.func.count(sa.distinct(r.c.requester)), *sums)
        # No request at all: no row (an aggregate with no GROUP BY would give one of zeros).
        sel = sel.group_by(*group) if group else sel.having(sa.func.count() > 0)
        conn.execute(sa.insert(agg_requests).from_select(cols, sel))


def refresh_satisfaction(conn: Connection, months: Collection[str] | None = None) -> None:
    """Recount agg_satisfaction for ``months`` (None: all) from the ratings."""
    r, a = ratings, agg_satisfaction
    # Constants as SQL text, not bound parameters: PostgreSQL would not see the CASE of the
    # select list and of the GROUP BY as one expression if each had its own parameter.
    subject = sa.case((r.c.kind == sa.literal_column("'property'"), r.c.subject), else_=r.c.category)
    district = sa.literal_column(f"'{DISTRICT}'", sa.String(64))
    where = [] if months is None else [r.c.month.in_(sorted(months))]
    conn.execute(sa.delete(a).where(*([] if months is None else [a.c.month.in_(sorted(months))])))
    for committee in (r.c.committee, district):
        group = [c for c in (committee, r.c.kind, subject, r.c.month) if c is not district]
        conn.execute(sa.insert(a).from_select(
            [c.name for c in a.columns],
            sa.select(committee, r.c.kind, subject, r.c.month, sa.func.count(sa.distinct(r.c.rater)),
                      sa.func.count(), sa.cast(sa.func.sum(r.c.score), sa.BigInteger))
            .where(*where).group_by(*group)))


def refresh_turnout(conn: Connection, ids: Collection[int] = (), since_ms: int | None = None,
                    every: bool = False) -> None:
    """Recount agg_turnout for the owners' proposals ``ids``, those made at ``since_ms`` or
    later, or (``every``) all: per committee, its households on the register when the
    proposal was made and how many of them voted."""
    p, h, v, a = proposals, households, votes, agg_turnout
    picks: list[sa.ColumnElement[bool]] = [p.c.id.in_(sorted(ids))] if ids else []
    if since_ms is not None:
        picks.append(p.c.created_ms >= since_ms)
    if not every and not picks:
        return
    chosen = [p.c.kind == sa.literal_column("'owners'")] + ([] if every else [sa.or_(*picks)])
    conn.execute(sa.delete(a).where(a.c.proposal_id.in_(sa.select(p.c.id).where(*chosen))))
    joined = (p.join(h, sa.and_(h.c.registered_ms <= p.c.created_ms,
                                sa.or_(h.c.removed_ms.is_(None), h.c.removed_ms > p.c.created_ms)))
              .outerjoin(v, sa.and_(v.c.proposal_id == p.c.id, v.c.voter == h.c.address)))
    conn.execute(sa.insert(a).from_select(
        [c.name for c in a.columns],
        sa.select(h.c.committee, p.c.id, sa.func.count(h.c.address), sa.cast(sa.func.sum(h.c.area_dm2), sa.BigInteger),
                  sa.func.count(v.c.voter), sa.cast(sa.func.coalesce(sa.func.sum(v.c.area_dm2), 0), sa.BigInteger))
        .select_from(joined).where(*chosen).group_by(h.c.committee, p.c.id)))


def _v10_recounted_rollups(conn: Connection) -> None:
    # Filled from the ratings, households, proposals and votes already indexed.
    agg_satisfaction.create(conn, checkfirst=True)
    agg_turnout.create(conn, checkfirst=True)
    ix_ratings_month.create(conn, checkfirst=True)
    refresh_satisfaction(conn)
    refresh_turnout(conn, every=True)


def _view_names() -> list[str]:
    from analytics.figures import VIEWS  # the views are defined beside their figures

    return list(VIEWS)


MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "chain tables, projections and indexer state", _v1_tables),
    (2, "figures as views", _v2_views),
    (3, "index of bills by household", _v3_bill_index),
    (4, "rollups of the dashboard's figures (the chain is indexed again from block 0)", _v4_rollups),
    (5, "the audience of notices (the chain is indexed again from block 0)", _v4_rollups),
    (6, "a rollup of fee collection (the chain is indexed again from block 0)", _v4_rollups),
    (7, "indexes for one committee's txs by day and for unpaid bills", _v7_indexes),
    (8, "indexes for one committee's ratings and service requests", _v8_indexes),
    (9, "a rollup of service requests", _v9_request_rollup),
    (10, "rollups of satisfaction and of one committee's turnout", _v10_recounted_rollups),
)
LATEST_VERSION = MIGRATIONS[-1][0]


def schema_version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table(hk_schema.name):
        return 0
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(hk_schema.c.version), 0))).scalar_one())


def migrate(engine: Engine) -> int:
    """Bring the database to LATEST_VERSION, one transaction per step; its version."""
    try:
        with engine.begin() as conn:
            current = schema_version(conn)
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"cannot open the database: {exc.orig}") from None
    if current > LATEST_VERSION:
        raise DatabaseError(
            f"the database has schema version {current}, newer than this hkchain knows "
            f"({LATEST_VERSION}): upgrade hkchain", code="schema_too_new")
    applied = False
    for version, description, step in MIGRATIONS:
        if version <= current:
            continue
        with engine.begin() as conn:
            if version == 1:
                hk_schema.create(conn, checkfirst=True)
            step(conn)
            conn.execute(sa.insert(hk_schema).values(
                version=version, description=description, applied_ms=int(time.time() * 1000)))
        current = version
        applied = True
    if applied:
        from analytics.figures import create_views

        with engine.begin() as conn:
            create_views(conn)
    return current
