"""The figures: SQL views over the indexed tables, per committee and for the district, and
how to read them with small cells suppressed.

Each view has a ``committee`` column (a committee member's address, or ``*`` for the whole
district), its own keys (week, day, estate...), a ``households`` column (how many distinct
households or residents the row counts) and ``suppressed``. A row over fewer than
MIN_HOUSEHOLDS households has ``suppressed = 1`` and every figure null, ``households``
included: the views themselves suppress, so a BI tool reading them sees no small cell
either. Ratios are integers in per mille and durations integers in milliseconds, computed
in exact integer arithmetic, so SQLite and PostgreSQL give the same numbers.

The view texts are fixed SQL written here (no value is ever put into them); queries of the
API go through SQLAlchemy with bound parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from analytics.errors import BadRequest

MIN_HOUSEHOLDS = 5
DISTRICT = "*"  # the district's scope: analytics/schema.py's DISTRICT (the rollups' own)
DAY_MS = 86_400_000


def _suppress(n: str, *figures: tuple[str, str]) -> str:
    """The outer select list: ``n`` households behind the row, figures hidden below the floor."""
    keep = f"{n} >= {MIN_HOUSEHOLDS}"
    cols = [f"CASE WHEN {keep} THEN {n} END AS households",
            f"CASE WHEN {keep} THEN 0 ELSE 1 END AS suppressed"]
    cols += [f"CASE WHEN {keep} THEN {expr} END AS {name}" for name, expr in figures]
    return ",\n       ".join(cols)


def _ratio(num: str, den: str) -> str:
    return f"CASE WHEN {den} > 0 THEN CAST({num} AS BIGINT) * 1000 / CAST({den} AS BIGINT) END"


def _avg(total: str, count: str) -> str:
    return f"CASE WHEN {count} > 0 THEN CAST({total} AS BIGINT) / CAST({count} AS BIGINT) END"


VIEWS: dict[str, str] = {}

VIEWS["v_active_residents_weekly"] = f"""
SELECT committee, week,
       {_suppress("residents", ("active_residents", "residents"))}
FROM agg_active_week"""

VIEWS["v_txs_daily_by_kind"] = f"""
SELECT committee, day, kind,
       {_suppress("senders", ("txs", "txs"))}
FROM agg_txs_day"""

# Per committee: that committee's households on the register when the proposal was made,
# and how many of them voted (agg_turnout, recounted by the indexer for the proposals a batch
# touches). The district row is the proposal's own electorate, with the Article 278 quorum
# (2/3 of the owners and 2/3 of the area) and when it was reached.
VIEWS["v_proposal_turnout"] = f"""
WITH c AS (
  SELECT a.committee AS committee, p.id AS proposal_id, p.title AS title, p.category AS category,
         p.created_ms AS created_ms, p.closes_height AS closes_height,
         a.total_owners AS total_owners, a.total_area_dm2 AS total_area_dm2,
         a.voted_heads AS voted_heads, a.voted_area_dm2 AS voted_area_dm2,
         CAST(NULL AS BIGINT) AS quorum_height, CAST(NULL AS BIGINT) AS quorum_ms
  FROM agg_turnout a JOIN proposals p ON p.id = a.proposal_id
  UNION ALL
  SELECT '{DISTRICT}', p.id, p.title, p.category, p.created_ms, p.closes_height,
         p.total_owners, p.total_area, p.voted_heads, p.voted_area, p.quorum_height, p.quorum_ms
  FROM proposals p WHERE p.kind = 'owners'
)
SELECT committee, proposal_id, title, category, created_ms, closes_height,
       {_suppress("total_owners",
                  ("total_owners", "total_owners"), ("total_area_dm2", "total_area_dm2"),
                  ("voted_heads", "voted_heads"), ("voted_area_dm2", "voted_area_dm2"),
                  ("heads_permille", _ratio("voted_heads", "total_owners")),
                  ("area_permille", _ratio("voted_area_dm2", "total_area_dm2")),
                  ("quorum_reached", "CASE WHEN quorum_height IS NULL THEN 0 ELSE 1 END"),
                  ("quorum_height", "quorum_height"),
                  ("time_to_quorum_ms", "quorum_ms - created_ms"))}
FROM c"""

VIEWS["v_fee_collection_monthly"] = f"""
SELECT committee, estate, month,
       {_suppress("households", ("bills", "bills"), ("billed", "billed"), ("paid", "paid"),
                  ("collection_permille", _ratio("paid", "billed")))}
FROM agg_fees_month"""

# Unpaid bills by age at the time of the last indexed block (not the wall clock, so the
# figure is the same whenever it is read).
VIEWS["v_arrears_ageing"] = f"""
WITH now_ms AS (SELECT COALESCE(MAX(ts_ms), 0) AS t FROM blocks),
aged AS (
  SELECT b.committee, b.estate, b.household, b.total,
         CASE WHEN (n.t - b.issued_ms) / {DAY_MS} <= 30 THEN '0-30'
              WHEN (n.t - b.issued_ms) / {DAY_MS} <= 90 THEN '31-90'
              ELSE '>90' END AS bucket
  FROM bills b CROSS JOIN now_ms n WHERE b.paid_ms IS NULL
),
c AS (
  SELECT committee, estate, bucket, COUNT(*) AS bills, COUNT(DISTINCT household) AS n,
         CAST(SUM(total) AS BIGINT) AS amount
  FROM aged GROUP BY committee, estate, bucket
  UNION ALL
  SELECT '{DISTRICT}', estate, bucket, COUNT(*), COUNT(DISTINCT household), CAST(SUM(total) AS BIGINT)
  FROM aged GROUP BY estate, bucket
  UNION ALL
  SELECT '{DISTRICT}', '{DISTRICT}', bucket, COUNT(*), COUNT(DISTINCT household), CAST(SUM(total) AS BIGINT)
  FROM aged GROUP BY bucket
)
SELECT committee, estate, bucket,
       {_suppress("n", ("bills", "bills"), ("amount", "amount"))}
FROM c"""

# Property ratings by company (subject), service ratings by category, per month: kept by the
# indexer in agg_satisfaction (the months a batch touched are recounted from the ratings).
VIEWS["v_satisfaction_trend"] = f"""
SELECT committee, kind, subject, month,
       {_suppress("raters", ("ratings", "ratings"), ("score_sum", "score_sum"),
                  ("avg_score_milli", _ratio("score_sum", "ratings")))}
FROM agg_satisfaction"""

# Kept by the indexer in agg_requests (analytics/project.py): per committee and category,
# per category and for all, the requests, distinct requesters, and the sums of the times.
VIEWS["v_service_requests"] = f"""
SELECT committee, category,
       {_suppress("requesters", ("requests", "requests"), ("offered", "offered"),
                  ("avg_to_first_offer_ms", _avg("to_offer_ms", "offered")),
                  ("completed", "completed"),
                  ("avg_to_completion_ms", _avg("to_complete_ms", "completed")),
                  ("disputed", "disputed"),
                  ("dispute_permille", _ratio("disputed", "requests")))}
FROM agg_requests"""

# Spending is a transfer out of a resident's account; circulating is the points minted
# minus the points burnt since genesis (allocations in the genesis file not counted), up to
# the end of the month; velocity is the month's transfer volume over it. The sums are kept
# per month in agg_points_month by the indexer (analytics/project.py).
VIEWS["v_points_monthly"] = f"""
WITH c AS (
  SELECT committee, month, minted, burned, spent, at_merchants, volume, fees, people,
         CASE WHEN committee = '{DISTRICT}' THEN
           CAST(SUM(minted - burned) OVER (PARTITION BY committee ORDER BY month) AS BIGINT) END AS circulating
  FROM agg_points_month
)
SELECT committee, month,
       {_suppress("people", ("minted", "minted"), ("spent", "spent"), ("at_merchants", "at_merchants"),
                  ("merchant_share_permille", _ratio("at_merchants", "spent")),
                  ("burned", "burned"), ("fees", "fees"), ("volume", "volume"),
                  ("circulating", "circulating"),
                  ("velocity_permille", _ratio("volume", "circulating")))}
FROM c"""

VIEWS["v_points_earned_by_source"] = f"""
SELECT committee, month, source,
       {_suppress("earners", ("minted", "minted"), ("mints", "mints"))}
FROM agg_points_source"""

# Works and the likes they received, by the month of the upload and of the like, by the
# creator's committee; households = distinct creators and likers (agg_culture_month).
VIEWS["v_culture_monthly"] = f"""
SELECT committee, month,
       {_suppress("people", ("works", "works"), ("likes", "likes"))}
FROM agg_culture_month"""

# Residents of the committee when the notice was posted, and how many of them acknowledged
# it (notice_audience, kept by the indexer).
VIEWS["v_notice_read_rate"] = f"""
SELECT a.committee AS committee, a.notice_id AS notice_id, n.month AS month,
       {_suppress("a.residents", ("residents", "a.residents"), ("readers", "a.readers"),
                  ("read_permille", _ratio("a.readers", "a.residents")))}
FROM notice_audience a JOIN notices n ON n.id = a.notice_id"""


def create_views(conn: Connection) -> None:
    for name, body in VIEWS.items():
        conn.execute(sa.text(f"DROP VIEW IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE VIEW {name} AS {body}"))


# --- the figures as the API and the exports show them ---------------------------------------


@dataclass(frozen=True)
class Figure:
    name: str
    view: str
    title: str
    title_zh: str
    keys: tuple[tuple[str, str], ...]  # (column, Chinese header) identifying a row
    values: tuple[tuple[str, str], ...]  # (column, Chinese header) of the figures

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        return (("committee", "居委会"), *self.keys, ("households", "户数"), ("suppressed", "已隐藏"),
                *self.values)


FIGURES: tuple[Figure, ...] = (
    Figure("active_residents", "v_active_residents_weekly", "Active residents per week", "每周活跃居民",
           (("week", "周"),), (("active_residents", "活跃居民数"),)),
    Figure("txs_by_kind", "v_txs_daily_by_kind", "Transactions per day by kind", "每日各类交易数",
           (("day", "日期"), ("kind", "交易类型")), (("txs", "交易数"),)),
    Figure("turnout", "v_proposal_turnout", "Turnout per owners' proposal", "业主表决参与率",
           (("proposal_id", "表决编号"), ("title", "议题"), ("category", "事项类别"),
            ("created_ms", "发起时间(毫秒)"), ("closes_height", "截止区块高度")),
           (("total_owners", "业主总数"), ("total_area_dm2", "专有面积总数(0.01平方米)"),
            ("voted_heads", "参与表决户数"), ("voted_area_dm2", "参与表决面积(0.01平方米)"),
            ("heads_permille", "人数参与率(‰)"), ("area_permille", "面积参与率(‰)"),
            ("quorum_reached", "是否达到法定人数"), ("quorum_height", "达到法定人数的区块高度"),
            ("time_to_quorum_ms", "达到法定人数用时(毫秒)"))),
    Figure("fee_collection", "v_fee_collection_monthly", "Fee collection per estate and month", "物业费收缴率",
           (("estate", "小区"), ("month", "月份")),
           (("bills", "账单数"), ("billed", "应收(积分)"), ("paid", "实收(积分)"),
            ("collection_permille", "收缴率(‰)"))),
    Figure("arrears", "v_arrears_ageing", "Arrears ageing", "欠费账龄",
           (("estate", "小区"), ("bucket", "账龄(天)")), (("bills", "欠费账单数"), ("amount", "欠费金额(积分)"))),
    Figure("satisfaction", "v_satisfaction_trend", "Satisfaction per property company and service category",
           "满意度趋势", (("kind", "类别"), ("subject", "物业公司或服务类别"), ("month", "月份")),
           (("ratings", "评价数"), ("score_sum", "评分合计"), ("avg_score_milli", "平均评分(千分之一)"))),
    Figure("service_requests", "v_service_requests", "Service requests", "服务需求响应",
           (("category", "服务类别"),),
           (("requests", "需求数"), ("offered", "获得报价数"), ("avg_to_first_offer_ms", "首次报价平均用时(毫秒)"),
            ("completed", "完成数"), ("avg_to_completion_ms", "完成平均用时(毫秒)"), ("disputed", "争议数"),
            ("dispute_permille", "争议率(‰)"))),
    Figure("points", "v_points_monthly", "The points economy per month", "积分经济",
           (("month", "月份"),),
           (("minted", "发放积分"), ("spent", "居民支出积分"), ("at_merchants", "商户消费积分"),
            ("merchant_share_permille", "商户消费占比(‰)"), ("burned", "销毁积分"), ("fees", "手续费"),
            ("volume", "转账总额"), ("circulating", "流通积分"), ("velocity_permille", "流通速度(‰)"))),
    Figure("points_by_source", "v_points_earned_by_source", "Points earned by activity", "积分来源",
           (("month", "月份"), ("source", "来源")), (("minted", "发放积分"), ("mints", "发放次数"))),
    Figure("culture", "v_culture_monthly", "Culture works uploaded and liked", "文化作品",
           (("month", "月份"),), (("works", "上传作品数"), ("likes", "点赞数"))),
    Figure("notices", "v_notice_read_rate", "Read rate of notices", "通知阅读率",
           (("notice_id", "通知编号"), ("month", "月份")),
           (("residents", "居民数"), ("readers", "已读人数"), ("read_permille", "阅读率(‰)"))),
)
BY_NAME = {f.name: f for f in FIGURES}


def figure(name: str) -> Figure:
    f = BY_NAME.get(name)
    if f is None:
        raise BadRequest(f"no figure named {name!r}; figures: {', '.join(BY_NAME)}")
    return f


def read(conn: Connection, fig: Figure, committee: str = DISTRICT) -> list[dict[str, Any]]:
    """The rows of ``fig`` for one committee (or the district), in key order."""
    view = sa.table(fig.view, *(sa.column(c) for c, _ in fig.columns))
    stmt = (sa.select(*(view.c[c] for c, _ in fig.columns)).where(view.c.committee == committee)
            .order_by(*(view.c[c] for c, _ in fig.keys)))
    # All rows at once and plain tuples: a figure of a year of days and kinds has thousands
    # of rows, and row objects and per-row fetches cost more than the query itself.
    names = [c for c, _ in fig.columns]
    return [{k: _plain(v) for k, v in zip(names, r, strict=True)} for r in conn.execute(stmt).all()]


def _plain(v: Any) -> Any:
    # PostgreSQL gives Decimal for some integer sums: every figure is a whole number.
    return v if v is None or type(v) is int or type(v) is str or type(v) is bool else int(v)


def rows_of(fig: Figure, records: Sequence[dict[str, Any]]) -> list[list[Any]]:
    return [[r[c] for c, _ in fig.columns] for r in records]
