"""The analytics package's typed errors (codes the CLI and the stats API turn into
messages)."""

from __future__ import annotations

from core.errors import ChainError


class AnalyticsError(ChainError):
    """Base of the analytics errors."""

    code = "analytics_error"


class DatabaseError(AnalyticsError):
    """The database cannot be reached, or its schema is not one this version knows."""

    code = "database_error"


class SourceError(AnalyticsError):
    """The node cannot be reached or answered something that is not a chain page."""

    code = "node_unreachable"


class VerificationError(AnalyticsError):
    """A block, its certificate or its receipts do not verify: nothing of it is written."""

    code = "verification_failed"


class ChainMismatch(AnalyticsError):
    """The database indexes another chain than the node serves."""

    code = "chain_mismatch"


class BadRequest(AnalyticsError):
    """A stats query with an unknown figure, scope or format."""

    code = "bad_request"
