"""The operator's browser desktop, supervisor panels, websocket hub and REST API (aiohttp).

Public API (for the composition root):
    agent_desktop.app.create_app(DesktopDeps) -> aiohttp.web.Application
    agent_desktop.keys.DesktopDeps        db, bus, settings, clock, acd, switch, dialer, ...
    agent_desktop.acd_adapter.RoutingAgentControl(AcdService, Database)   the `acd` dependency
    agent_desktop.demo.seed_demo_users(db) / describe(users) / DEMO_USERS
"""
