"""The README's error tables, the code's one list of codes, and the source agree (no server).

A code the source can emit but the README does not list (or the reverse)
fails here, so a new code cannot ship undocumented.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from adapters.errors import (
    HANDSHAKE_REFUSALS,
    HTTP_ERRORS,
    WEBSOCKET_CLOSES,
    WEBSOCKET_ERRORS,
    http_status,
)
from adapters.shells.http_openapi import openapi_document

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CODE = re.compile(r"^[a-z]+(_[a-z0-9]+)*$")

EMITTERS = {
    "ProtocolError",
    "Refused",
    "TokenError",
    "WebhookRejectedError",
    "error",
    "_error",
    "_refuse",
    "_drop",
    "_rate_limited",
    "refusal",
}
"""Calls whose first argument is a code a client sees."""
STATUS_FIRST = {"ApiError", "error_response"}
"""Calls whose second argument is (their first is the HTTP status)."""
INTERNAL = (
    "adapters/shells/livekit_agent/",
    "adapters/engines/tts/",
    "adapters/engines/translation/",
)
"""The agent's own failures, and codes delivered in ``errorCode`` fields."""


def table(heading: str) -> list[list[str]]:
    """The cells of the README table whose header row is ``heading``."""
    lines = README.splitlines()
    start = lines.index(heading) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def sources() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted([*ROOT.glob("actors/**/*.py"), *ROOT.glob("adapters/**/*.py")]):
        name = path.relative_to(ROOT).as_posix()
        yield name, ast.parse(path.read_text(), name)


def callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.match(node.value):
        return node.value
    return None


def emitted_codes() -> dict[str, str]:
    """Code literals the source hands to clients, each with where it is."""
    found: dict[str, str] = {}
    for name, tree in sources():
        if name.startswith(INTERNAL):
            continue
        for node in ast.walk(tree):
            candidates: list[ast.expr | None] = []
            if isinstance(node, ast.Call) and callee(node) in EMITTERS and node.args:
                candidates.append(node.args[0])
            if isinstance(node, ast.Call) and callee(node) in STATUS_FIRST and len(node.args) > 1:
                candidates.append(node.args[1])
            if isinstance(node, ast.ClassDef):
                candidates += [
                    statement.value
                    for statement in node.body
                    if isinstance(statement, ast.Assign)
                    and [getattr(t, "id", "") for t in statement.targets] == ["code"]
                ]
            for candidate in candidates:
                code = literal(candidate)
                if code is not None:
                    found.setdefault(code, f"{name}:{getattr(candidate, 'lineno', 0)}")
    return found


def every_literal() -> set[str]:
    return {
        node.value
        for _, tree in sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_readme_websocket_errors_table_lists_exactly_the_codes() -> None:
    documented = [code for row in table("| code | cause |") for code in ticked(row[0])]
    assert len(documented) == len(set(documented)), "each code once"
    assert set(documented) == set(WEBSOCKET_ERRORS)


def test_readme_close_table_lists_exactly_the_closes_and_refusals() -> None:
    rows = table("| close code or HTTP status | when |")
    closes = {ticked(row[0])[0] for row in rows if row[0].startswith("close")}
    statuses = {ticked(row[0])[0] for row in rows if row[0].startswith("HTTP")}
    assert closes == set(WEBSOCKET_CLOSES)
    assert statuses == set(HANDSHAKE_REFUSALS)
    assert len(rows) == len(closes) + len(statuses)


def test_readme_http_table_gives_each_code_its_status() -> None:
    documented = {
        code: int(row[0]) for row in table("| status | code | cause |") for code in ticked(row[1])
    }
    assert documented == {code: http_status(code) for code in HTTP_ERRORS}


def test_openapi_enumerates_the_same_http_codes() -> None:
    schema = openapi_document()["components"]["schemas"]["Error"]
    assert schema["properties"]["error"]["properties"]["code"]["enum"] == list(HTTP_ERRORS)


def test_every_code_the_source_emits_is_listed() -> None:
    reasons = {
        word
        for key in (*WEBSOCKET_CLOSES, *HANDSHAKE_REFUSALS)
        for word in key.split()
        if not word.isdigit()
    }
    known = set(WEBSOCKET_ERRORS) | set(HTTP_ERRORS) | reasons
    unlisted = {code: where for code, where in emitted_codes().items() if code not in known}
    assert unlisted == {}, "add these to adapters/errors.py and the README"
    assert {"auth_timeout", "user_mismatch", "not_in_room"} <= set(emitted_codes())


def test_every_listed_code_is_still_in_the_source() -> None:
    listed = set(WEBSOCKET_ERRORS) | set(HTTP_ERRORS)
    assert listed - every_literal() == set(), "listed but never emitted: drop them"
