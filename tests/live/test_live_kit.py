"""The deploy kit as installed on a real Asterisk: every context, the AMI users, the features
and profiles the README's section 4 checks."""

from __future__ import annotations

from tests.live.asterisk import CALLBOARD_USER, LivePbx


def test_the_kit_loads_as_the_readme_checks_it(asterisk: LivePbx):
    for context in ("cb-inbound", "cb-hold", "cb-dialer", "cb-conf", "cb-agents", "pstn-sim"):
        out = asterisk.rx(f"dialplan show {context}")
        assert f"'{context}'" in out, out
    user = asterisk.rx(f"manager show user {CALLBOARD_USER}")
    assert "originate" in user and "call" in user, user
    assert "cc_bridge" in asterisk.rx("confbridge show profile bridge cc_bridge")
    features = asterisk.rx("features show")
    assert "*2" in [line.split()[-1] for line in features.splitlines() if "ttended" in line]
    assert "Running" in asterisk.rx("module show like amd")
    assert "default" in asterisk.rx("moh show classes")
    settings = asterisk.rx("manager show settings")
    for setting in ("Manager (AMI)", "Timestamp events"):
        assert any(setting in x and "Yes" in x for x in settings.splitlines()), settings
