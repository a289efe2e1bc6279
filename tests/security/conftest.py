"""The security tests run on their own (`pytest tests/security`) against the real app: they use
the desktop's fixtures (a seeded SQLite database, the app on a local port, real sign-in)."""

from tests.agent_desktop.conftest import (  # noqa: F401  (fixtures, found by name)
    browser,
    client,
    desk_deps,
    env,
    pbx_stack,
    sign_in,
)
