"""Analytics for committees and the district: an indexer that follows a node's committed
blocks into SQL (SQLite by default, PostgreSQL for the district), the figures built on it
as SQL views, their JSON API and their CSV/XLSX exports. It reads the chain like a client,
over the node's RPC, and never the personal-data register. See docs/ANALYTICS.md."""
