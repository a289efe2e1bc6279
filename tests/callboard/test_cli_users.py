"""`callboard user add | passwd | disable` as an administrator runs them: the web's rules, the
password never on the command line or in a log, every change audited with the OS user, and a
running node ending a disabled user's sessions."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from agent_desktop.account_watch import check_accounts, credential_mark
from agent_desktop.keys import DesktopDeps
from agent_desktop.principal import Principal
from agent_desktop.sessions import SessionStore
from callboard import users_cli
from callboard.cli import main
from crm_core.auth import verify_password
from crm_core.bus import InProcessBus
from crm_core.clock import ManualClock
from crm_core.config import load_settings
from crm_core.db import Database
from crm_core.models import AuditEntry, Role, User

PASSWORD = "Corr3ct-horse-battery"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "callboard.toml"
    path.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "cb.db"}"\n')
    assert main(["--config", str(path), "migrate"]) == 0
    return path


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


class Prompt:
    """getpass that answers from a list and remembers what it asked."""

    def __init__(self, monkeypatch, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []
        monkeypatch.setattr(users_cli.getpass, "getpass", self)

    def __call__(self, prompt: str = "") -> str:
        self.asked.append(prompt)
        return self.answers.pop(0)


def stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr(users_cli.sys, "stdin", io.StringIO(text))


def query(config: Path, statement):
    url = config.read_text().split('"')[1]

    async def go():
        db = await Database.open(url)
        try:
            async with db.session() as s:
                return (await s.execute(statement)).scalars().all()
        finally:
            await db.close()

    return asyncio.run(go())


def user(config: Path, name: str) -> User | None:
    rows = query(config, select(User).where(User.username == name))
    return rows[0] if rows else None


def audits(config: Path) -> list[AuditEntry]:
    return query(config, select(AuditEntry).where(AuditEntry.object_type == "user"))


def test_first_admin_from_the_prompt(config: Path, monkeypatch, capsys):
    prompt = Prompt(monkeypatch, PASSWORD, PASSWORD)
    monkeypatch.setattr(users_cli, "os_user", lambda: "root")
    assert run(config, "user", "add", "admin", "--role", "admin", "--full-name", "Ada Min") == 0
    assert len(prompt.asked) == 2  # asked twice
    assert "user 'admin' (admin) created" in capsys.readouterr().out
    admin = user(config, "admin")
    assert admin is not None and admin.role is Role.ADMIN and admin.active
    assert admin.full_name == "Ada Min" and admin.language == "en"
    assert verify_password(PASSWORD, admin.password_hash)
    [entry] = audits(config)
    assert (entry.action, entry.user_id, entry.object_id) == ("create", None, str(admin.id))
    assert entry.detail["os_user"] == "root" and entry.detail["via"] == "cli"


def test_a_wrong_second_password_creates_nothing(config: Path, monkeypatch, capsys):
    Prompt(monkeypatch, PASSWORD, PASSWORD + "x")
    assert run(config, "user", "add", "admin", "--role", "admin") == 2
    assert "the two passwords differ" in capsys.readouterr().err
    assert user(config, "admin") is None and audits(config) == []


def test_the_web_password_rules_apply(config: Path, monkeypatch, capsys):
    stdin(monkeypatch, "short\n")
    assert run(config, "user", "add", "admin", "--role", "admin", "--password-stdin") == 2
    assert "password: 10 to 256 characters" in capsys.readouterr().err
    stdin(monkeypatch, " " * 12 + "\n")
    assert run(config, "user", "add", "admin", "--role", "admin", "--password-stdin") == 2
    assert "not only spaces" in capsys.readouterr().err
    assert user(config, "admin") is None


def test_the_web_name_and_endpoint_rules_apply(config: Path, monkeypatch, capsys):
    prompt = Prompt(monkeypatch)
    assert run(config, "user", "add", "bad name", "--role", "operator") == 2
    assert "username: letters, digits" in capsys.readouterr().err
    endpoint = "PJSIP/1001\r\nAction: Hangup"
    assert run(config, "user", "add", "olga", "--role", "operator", "--endpoint", endpoint) == 2
    assert "endpoint: empty or TECH/resource" in capsys.readouterr().err
    assert prompt.asked == []  # refused before any password was asked


def test_a_duplicate_user_is_refused(config: Path, monkeypatch, capsys):
    stdin(monkeypatch, PASSWORD + "\n")
    assert run(config, "user", "add", "olga", "--role", "operator", "--password-stdin") == 0
    capsys.readouterr()
    prompt = Prompt(monkeypatch)
    for name in ("olga", "Olga", "OLGA"):
        assert run(config, "user", "add", name, "--role", "operator") == 2
        assert "too like the existing user 'olga'" in capsys.readouterr().err
    assert prompt.asked == []  # the name is refused before the password is asked
    assert len(audits(config)) == 1


def test_team_endpoint_and_language(config: Path, monkeypatch, capsys):
    stdin(monkeypatch, PASSWORD + "\n")
    assert run(config, "user", "add", "sveta", "--role", "supervisor", "--password-stdin") == 0
    stdin(monkeypatch, PASSWORD + "\n")
    args = ["--team", "sveta", "--endpoint", "PJSIP/1001", "--language", "ru"]
    assert run(config, "user", "add", "olga", "--role", "operator", *args, "--password-stdin") == 0
    olga, sveta = user(config, "olga"), user(config, "sveta")
    assert (olga.team_id, olga.endpoint, olga.language) == (sveta.id, "PJSIP/1001", "ru")
    capsys.readouterr()
    stdin(monkeypatch, PASSWORD + "\n")
    assert run(config, "user", "add", "ivan", "--role", "operator", "--team", "olga") == 2
    assert "no active supervisor or admin" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: only en or ru
        run(config, "user", "add", "ivan", "--role", "operator", "--language", "de")


def test_the_password_is_never_on_the_command_line_or_in_a_log(
    config: Path, monkeypatch, capsys, caplog
):
    for given in (["--password", PASSWORD], [f"--password={PASSWORD}"]):
        assert run(config, "user", "add", "admin", "--role", "admin", *given) == 2
        assert "--password is not accepted" in capsys.readouterr().err  # (and not echoed)
    assert user(config, "admin") is None
    caplog.set_level(logging.DEBUG)
    stdin(monkeypatch, PASSWORD + "\n")
    assert run(config, "-v", "user", "add", "admin", "--role", "admin", "--password-stdin") == 0
    new = "An0ther-long-passphrase"
    Prompt(monkeypatch, new, new)
    assert run(config, "-v", "user", "passwd", "admin") == 0
    out, err = capsys.readouterr()
    for secret in (PASSWORD, new):
        assert secret not in out + err
        assert secret not in caplog.text
        assert all(secret not in repr(entry.detail) for entry in audits(config))
    assert verify_password(new, user(config, "admin").password_hash)


def test_passwd(config: Path, monkeypatch, capsys):
    stdin(monkeypatch, PASSWORD + "\n")
    assert run(config, "user", "add", "olga", "--role", "operator", "--password-stdin") == 0
    before = user(config, "olga").password_hash
    Prompt(monkeypatch, "Brand-new-secret", "Brand-new-secrex")
    assert run(config, "user", "passwd", "olga") == 2
    assert "the two passwords differ" in capsys.readouterr().err
    assert user(config, "olga").password_hash == before
    stdin(monkeypatch, "Brand-new-secret\n")
    assert run(config, "user", "passwd", "olga", "--password-stdin") == 0
    assert verify_password("Brand-new-secret", user(config, "olga").password_hash)
    assert [a.action for a in audits(config)] == ["create", "password"]
    prompt = Prompt(monkeypatch)
    assert run(config, "user", "passwd", "nobody") == 2
    assert "no user 'nobody'" in capsys.readouterr().err
    assert prompt.asked == []


def test_disable(config: Path, monkeypatch, capsys):
    stdin(monkeypatch, PASSWORD + "\n")
    assert run(config, "user", "add", "olga", "--role", "operator", "--password-stdin") == 0
    assert run(config, "user", "disable", "olga") == 0
    assert "disabled" in capsys.readouterr().out
    assert user(config, "olga").active is False
    assert run(config, "user", "disable", "olga") == 0
    assert "already disabled" in capsys.readouterr().out
    assert [a.action for a in audits(config)] == ["create", "disable"]
    assert run(config, "user", "disable", "nobody") == 2


def test_a_running_node_ends_the_sessions_of_a_disabled_user(config: Path, monkeypatch):
    for name in ("olga", "ivan"):
        stdin(monkeypatch, PASSWORD + "\n")
        assert run(config, "user", "add", name, "--role", "operator", "--password-stdin") == 0
    olga, ivan = user(config, "olga"), user(config, "ivan")
    url = config.read_text().split('"')[1]
    clock = ManualClock()
    store = SessionStore(b"0123456789abcdef0123", clock)
    ended: list[str] = []
    store.on_end(ended.append)
    olga_session, _ = store.create(
        Principal.of(olga), credential=credential_mark(olga.password_hash)
    )
    ivan_old, _ = store.create(Principal.of(ivan), credential=credential_mark(ivan.password_hash))

    async def check() -> int:
        db = await Database.open(url)
        try:
            deps = DesktopDeps(db=db, bus=InProcessBus(), settings=load_settings(None, {}))
            return await check_accounts(deps, store)
        finally:
            await db.close()

    assert asyncio.run(check()) == 0  # nothing changed: nothing ends
    assert run(config, "user", "disable", "olga") == 0
    stdin(monkeypatch, "Brand-new-secret\n")
    assert run(config, "user", "passwd", "ivan", "--password-stdin") == 0
    ivan_new, _ = store.create(
        Principal.of(ivan), credential=credential_mark(user(config, "ivan").password_hash)
    )
    assert asyncio.run(check()) == 2
    assert sorted(ended) == sorted([olga_session.sid, ivan_old.sid])
    assert store.user_sessions(olga.id) == 0 and store.user_sessions(ivan.id) == 1
    assert ivan_new.sid not in ended


def test_before_migrate_the_command_says_so(tmp_path: Path, capsys):
    path = tmp_path / "callboard.toml"
    path.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "new.db"}"\n')
    assert run(path, "user", "disable", "admin") == 2
    assert "run `callboard migrate` first" in capsys.readouterr().err
