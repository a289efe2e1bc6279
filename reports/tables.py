"""Read-only column views of tables other packages own, so `reports` needs only `crm_core`.

routing owns `agent_state_log` (routing.tables), the dialer `dialer_attempts` and
`dialer_campaigns` (dialer.tables), recordings `recordings` (recordings.tables). A report reads a
few of their columns; tests/reports check every column named here against the real metadata.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, column, table

from crm_core.models import UtcDateTime

agent_state_log = table(
    "agent_state_log",
    column("id", Integer),
    column("agent_id", String),  # the User id as text
    column("state", String),
    column("reason", String),
    column("at", UtcDateTime()),
)

dialer_attempts = table(
    "dialer_attempts",
    column("attempt_id", String),
    column("campaign_id", Integer),
    column("debt_id", Integer),
    column("started_at", UtcDateTime()),
    column("outcome", String),
    column("abandoned", Boolean),
    column("right_party_contact", Boolean),
    column("agent_id", String),
    column("call_id", String),
    column("inbound", Boolean),
)

dialer_campaigns = table(
    "dialer_campaigns",
    column("id", Integer),
    column("name", String),
)

recordings = table(
    "recordings",
    column("id", Integer),
    column("linkedid", String),
    column("status", String),
)
