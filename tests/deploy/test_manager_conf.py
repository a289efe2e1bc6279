"""The shipped AMI user (deploy/asterisk/manager_callboard.conf) may send every action the
product sends, and holds no write class it does not need.

Asterisk allows an action when the user holds ANY ONE of the write classes the action is
registered with; the table of Asterisk 22.10.1's actions and classes is
../shared/asterisk/ami-action-write-classes.tsv (next to the repository)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ami_bridge.switch import AMI_ACTIONS_SENT

REPO = Path(__file__).resolve().parents[2]
MANAGER_CONF = REPO / "deploy" / "asterisk" / "manager_callboard.conf"
CLASSES_TSV = REPO.parent / "shared" / "asterisk" / "ami-action-write-classes.tsv"
NOT_PRODUCT = {"pbx_sim", "tests", "benchmarks", "deploy"}  # pbx_sim is the other side
SENDING_CALLS = {"_send", "send", "send_list", "request", "write", "PendingAction"}


def read_asterisk_conf(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections of an Asterisk .conf file: name -> key -> values (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and "]" in line:
            current = sections.setdefault(line[1 : line.index("]")], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"unreadable line in {path.name}: {raw!r}"
        current.setdefault(key.strip().rstrip(">").strip(), []).append(value.strip())
    return sections


def shipped_classes(kind: str) -> set[str]:
    user = read_asterisk_conf(MANAGER_CONF)["callboard"]
    return {c.strip().lower() for value in user[kind] for c in value.split(",") if c.strip()}


@pytest.fixture(scope="module")
def write_classes_of() -> dict[str, set[str]]:
    """Action name -> the write classes Asterisk 22 registers it with (empty: none needed)."""
    if not CLASSES_TSV.exists():
        pytest.skip(f"no Asterisk action table at {CLASSES_TSV} (../shared is not checked out)")
    table: dict[str, set[str]] = {}
    for line in CLASSES_TSV.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        action, classes = line.split("\t")
        table[action] = set() if classes == "0" else {c.lower() for c in classes.split("|")}
    return table


def actions_in_source() -> dict[str, list[str]]:
    """AMI action names the product's code sends: the first argument of a sending call
    (`_send("Redirect", ...)`, `request("Logoff", ...)`, `write("Ping", ...)`, ...), and any
    `"Action": "<name>"` / `("Action", "<name>")` it builds by hand. Name -> where."""
    found: dict[str, list[str]] = {}

    def note(name: object, path: Path, node: ast.AST) -> None:
        if isinstance(name, str) and name[:1].isupper() and name.isidentifier():
            found.setdefault(name, []).append(f"{path.relative_to(REPO)}:{node.lineno}")

    for package in sorted(REPO.iterdir()):
        if package.name in NOT_PRODUCT or not (package / "__init__.py").exists():
            continue
        for path in sorted(package.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and node.args:
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    first = node.args[0]
                    if name in SENDING_CALLS and isinstance(first, ast.Constant):
                        note(first.value, path, node)
                elif isinstance(node, ast.Dict):
                    for key, value in zip(node.keys, node.values, strict=True):
                        if isinstance(key, ast.Constant) and key.value == "Action":
                            if isinstance(value, ast.Constant):
                                note(value.value, path, node)
                elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
                    key, value = node.elts
                    if isinstance(key, ast.Constant) and key.value == "Action":
                        if isinstance(value, ast.Constant):
                            note(value.value, path, node)
    return found


def test_the_declared_set_is_what_the_code_sends(write_classes_of) -> None:
    found = {name: where for name, where in actions_in_source().items() if name in write_classes_of}
    assert {"Login", "Originate", "MixMonitor", "CoreShowChannels"} <= set(found)  # not vacuous
    undeclared = {name: where for name, where in found.items() if name not in AMI_ACTIONS_SENT}
    assert not undeclared, f"add these to ami_bridge.switch.AMI_ACTIONS_SENT: {undeclared}"
    stale = AMI_ACTIONS_SENT - set(found)
    assert not stale, f"declared in AMI_ACTIONS_SENT but never sent: {sorted(stale)}"


def test_every_action_sent_is_an_asterisk_action(write_classes_of) -> None:
    unknown = sorted(a for a in AMI_ACTIONS_SENT if a not in write_classes_of)
    assert not unknown, f"not AMI actions of Asterisk 22: {unknown}"


def test_the_shipped_user_may_send_every_action(write_classes_of) -> None:
    write = shipped_classes("write")
    denied = {
        action: sorted(write_classes_of[action])
        for action in sorted(AMI_ACTIONS_SENT)
        if write_classes_of[action] and not write_classes_of[action] & write
    }
    assert not denied, f"Asterisk answers 'Permission denied' to (action: classes): {denied}"


def test_mixmonitor_needs_system(write_classes_of) -> None:
    assert write_classes_of["MixMonitor"] == {"system"}
    assert "system" in shipped_classes("write")


def test_no_write_class_is_granted_without_need(write_classes_of) -> None:
    """Least privilege: each class is the only one that allows some action the product sends."""
    write = shipped_classes("write")
    for granted in sorted(write):
        sole = [a for a in AMI_ACTIONS_SENT if write_classes_of[a] & write == {granted}]
        assert sole, f"write class {granted!r} allows nothing the product needs"
    assert not write & {"command", "config", "all"}


def test_the_user_is_fenced_by_an_acl() -> None:
    user = read_asterisk_conf(MANAGER_CONF)["callboard"]
    assert user["deny"] == ["0.0.0.0/0.0.0.0"]
    assert user["permit"] and all("0.0.0.0/0" not in p for p in user["permit"])
    assert "CHANGE-ME" in user["secret"][0]  # never a usable default secret
