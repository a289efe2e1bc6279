"""Reports a collections manager runs the floor on: agent performance, queues, campaigns,
collections and call detail records, read back from what the product stores.

Pure query and aggregation code over SQLAlchemy 2 async, the same on SQLite and PostgreSQL. The
database filters each report's range on indexed time columns and streams only the columns the
report needs; the buckets (day, 15/30/60-minute interval) are cut in Python in the center's time
zone, since SQLite has no time zones. Memory holds the buckets, never the rows, so a long range
costs time, not memory.

The package imports `crm_core` only; the tables other packages own (routing's agent state log,
the dialer's attempts and campaigns, the recordings index) are read through the column views in
`reports.tables`, checked against the real metadata by the tests. The edges
(`agent_desktop.reports_views`) import this package.
"""

from reports.common import Report, ReportRange, Scope

__all__ = ["Report", "ReportRange", "Scope"]
