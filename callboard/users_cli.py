"""`callboard user add | passwd | disable`: accounts from the command line, for the first admin
after `callboard migrate` and for scripts.

The same rules as the web admin API (crm_core.users: names, passwords, endpoints, names unique
across case and look-alikes). A password is never taken from the command line (argv is visible
to every user of the machine in `ps`): it is asked twice on the terminal, or read as one line
from standard input with `--password-stdin`. Every change is in the audit log with the
operating-system user who ran the command as the actor (`detail.os_user`, `via: cli`).

A running node notices a disabled account or a changed password within
`agent_desktop.account_watch.CHECK_EVERY_S` seconds: it ends that user's sessions (and their
websockets) and takes an operator off duty, as the web admin API does at once.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import audit
from crm_core import users as user_rules
from crm_core.auth import hash_password
from crm_core.config import Settings
from crm_core.db import Database
from crm_core.models import Role, User

LANGUAGES = ("en", "ru")


class UserCommandError(Exception):
    """A refused user command: printed as `callboard: ...`, exit status 2."""


def add_parser(commands: Any) -> None:
    user = commands.add_parser("user", help="user accounts (the first admin, scripts)")
    actions = user.add_subparsers(dest="action", required=True)
    add = actions.add_parser(
        "add",
        help="create a user; the password is asked twice (or read from stdin with"
        " --password-stdin), never given on the command line",
    )
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--full-name", default="", help="the name shown on panels")
    add.add_argument("--team", help="the user name of the supervisor whose team this user joins")
    add.add_argument("--endpoint", default="", help="the phone the PBX rings, e.g. PJSIP/1001")
    add.add_argument("--language", default="en", choices=LANGUAGES)
    _password_stdin(add)
    passwd = actions.add_parser("passwd", help="set a user's password (ends their sessions)")
    passwd.add_argument("username")
    _password_stdin(passwd)
    disable = actions.add_parser(
        "disable", help="disable a user: no sign-in; a running node ends their sessions"
    )
    disable.add_argument("username")


def _password_stdin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password as the first line of standard input (for scripts)",
    )
    # caught so that it is refused without argparse echoing the value ("unrecognized
    # arguments: <the password>") into a terminal or a CI log
    parser.add_argument("--password", dest="password_in_argv", help=argparse.SUPPRESS)


def os_user() -> str:
    """Who ran the command, as the operating system knows them."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (some containers)
        return f"uid {os.getuid()}"


def read_password(from_stdin: bool) -> str:
    """The new password, checked by the web's rules; asked twice on a terminal."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserCommandError("--password-stdin: standard input is empty")
        password = line.removesuffix("\n").removesuffix("\r")
    else:
        try:
            password = getpass.getpass("New password: ")
            again = getpass.getpass("Repeat the password: ")
        except EOFError:
            raise UserCommandError("no password given (use --password-stdin in scripts)") from None
        if password != again:
            raise UserCommandError("the two passwords differ; nothing changed")
    try:
        return user_rules.check_password(password)
    except user_rules.UserInputError as exc:
        raise UserCommandError(str(exc)) from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "password_in_argv", None) is not None:
        raise UserCommandError(
            "--password is not accepted: the command line is visible to every user of this"
            " machine; answer the prompt, or pipe it in with --password-stdin"
        )
    try:
        if args.action == "add":
            return _add(args, settings)
        if args.action == "passwd":
            return _passwd(args, settings)
        return _disable(args, settings)
    except user_rules.UserInputError as exc:
        raise UserCommandError(str(exc)) from None
    except (OperationalError, ProgrammingError) as exc:  # no users table: never migrated
        raise UserCommandError(
            f"the database is not ready ({exc.orig}); run `callboard migrate` first"
        ) from None


async def _hash(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, hash_password, password)


def _record(session: Any, user: User, action: str, **detail: Any) -> None:
    audit.record(
        session,
        at=datetime.now(UTC),
        user_id=None,  # no Callboard user did it: the actor is the OS user
        action=action,
        object_type="user",
        object_id=user.id,
        os_user=os_user(),
        via="cli",
        username=user.username,
        **detail,
    )


async def _find(session: AsyncSession, username: str) -> User:
    user = (
        await session.execute(select(User).where(User.username == username))
    ).scalar_one_or_none()
    if user is None:
        raise UserCommandError(f"no user {username!r}")
    return user


def _add(args: argparse.Namespace, settings: Settings) -> int:
    username = user_rules.check_username(args.username)
    full_name = user_rules.check_full_name(args.full_name)
    endpoint = user_rules.check_endpoint(args.endpoint)
    role = Role(args.role)

    async def checks(session: AsyncSession) -> int | None:
        """Refuses a taken name or an unknown team; returns the team's id."""
        try:
            await user_rules.ensure_new_username(session, username)
        except user_rules.UsernameTaken as exc:
            raise UserCommandError(str(exc)) from None
        if not args.team:
            return None
        team = (
            await session.execute(select(User).where(User.username == args.team))
        ).scalar_one_or_none()
        if team is None or team.role is Role.OPERATOR or not team.active:
            raise UserCommandError(
                f"--team {args.team!r}: no active supervisor or admin of that name"
            )
        return team.id

    async def precheck() -> None:
        db = await Database.open(settings.database.url)
        try:
            async with db.session() as session:
                await checks(session)
        finally:
            await db.close()

    asyncio.run(precheck())  # a taken name fails before the password is asked
    password = read_password(args.password_stdin)

    async def run() -> User:
        db = await Database.open(settings.database.url)
        try:
            async with db.session() as session:
                team_id = await checks(session)  # again: another admin may have been quicker
                user = User(
                    username=username,
                    full_name=full_name,
                    role=role,
                    password_hash=await _hash(password),
                    endpoint=endpoint,
                    language=args.language,
                    team_id=team_id,
                    created_at=datetime.now(UTC),
                )
                session.add(user)
                await session.flush()
                _record(
                    session,
                    user,
                    "create",
                    role=role.value,
                    team=args.team or "",
                    endpoint=endpoint,
                    language=args.language,
                )
                try:
                    await session.commit()
                except IntegrityError:
                    raise UserCommandError(f"user {username!r} exists") from None
                return user
        finally:
            await db.close()

    user = asyncio.run(run())
    print(f"user {user.username!r} ({user.role.value}) created, id {user.id}")
    return 0


def _passwd(args: argparse.Namespace, settings: Settings) -> int:
    async def check() -> None:
        db = await Database.open(settings.database.url)
        try:
            async with db.session() as session:
                await _find(session, args.username)
        finally:
            await db.close()

    asyncio.run(check())  # an unknown name fails before the password is asked
    password = read_password(args.password_stdin)

    async def run() -> None:
        db = await Database.open(settings.database.url)
        try:
            async with db.session() as session:
                user = await _find(session, args.username)
                user.password_hash = await _hash(password)
                _record(session, user, "password")
                await session.commit()
        finally:
            await db.close()

    asyncio.run(run())
    print(
        f"password of {args.username!r} changed; a running node ends their open sessions"
        " within seconds"
    )
    return 0


def _disable(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> bool:
        db = await Database.open(settings.database.url)
        try:
            async with db.session() as session:
                user = await _find(session, args.username)
                if not user.active:
                    return False
                user.active = False
                _record(session, user, "disable")
                await session.commit()
                return True
        finally:
            await db.close()

    if asyncio.run(run()):
        print(
            f"user {args.username!r} disabled: no more sign-ins; a running node ends their"
            " sessions and takes them off duty within seconds"
        )
    else:
        print(f"user {args.username!r} was already disabled")
    return 0
