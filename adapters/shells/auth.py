"""Signed tokens: who a connection is, and whether the server's secret is sound.

User tokens are HS256 JWTs signed with ``VOICEMODE_SECRET``: ``sub`` (user
id), ``name``, ``lang`` (default language), ``kind`` (``user``), ``iat`` and
``exp``, and ``role: admin`` on an operator's token (``voicemode token --role
admin``), which may manage every room; a token without ``role`` is a plain
user's. Agent workers have credentials of their own: tokens signed with a
separate ``VOICEMODE_AGENT_SECRET`` whose ``sub`` is the worker id and whose
``kind`` is ``agent``, so a user's token can never open the agent channel.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import jwt

from adapters.languages import UnknownLanguageError, normalize_language

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
MAX_TTL_S = 7 * 24 * 3600
USER_ID = re.compile(r"[A-Za-z0-9_.@:-]{1,128}")
"""Matched whole (``fullmatch``): ``$`` would let a trailing newline through."""
USER_SECRET = "VOICEMODE_SECRET"
AGENT_SECRET = "VOICEMODE_AGENT_SECRET"
AGENT_KIND = "agent"
USER_KIND = "user"
USER_ROLE = "user"
ADMIN_ROLE = "admin"
ROLES = (USER_ROLE, ADMIN_ROLE)


class TokenError(Exception):
    """A token that does not let its bearer in; ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class WeakSecretError(ValueError):
    """The server secret is missing or too short to sign tokens safely."""


@dataclass(frozen=True)
class Identity:
    """Who is behind a verified token."""

    user_id: str
    name: str
    language: str
    kind: str
    role: str = USER_ROLE
    """``admin`` for an operator, who may manage every room; else ``user``."""


def check_secret(secret: str | None, name: str = USER_SECRET) -> str:
    """Return the secret if it is strong enough, else raise WeakSecretError.

    ``name`` is the environment variable it came from, for the message.
    """
    if not secret:
        raise WeakSecretError(f"{name} is not set")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise WeakSecretError(f"{name} must be at least {MIN_SECRET_BYTES} bytes")
    if len(set(secret)) < 8:
        raise WeakSecretError(f"{name} is too repetitive to be a secret")
    return secret


def check_agent_secret(secret: str | None, user_secret: str) -> str:
    """Return the agent secret if it is strong and not the users' secret.

    Were both the same, a user token would carry a valid signature on the
    agent channel, leaving only its ``kind`` claim to keep the user out.
    """
    checked = check_secret(secret, AGENT_SECRET)
    if secrets.compare_digest(checked.encode(), user_secret.encode()):
        raise WeakSecretError(f"{AGENT_SECRET} must differ from {USER_SECRET}")
    return checked


def generate_secret() -> str:
    """A fresh random secret for ``serve --dev``."""
    return secrets.token_urlsafe(48)


def parse_ttl(text: str) -> int:
    """Parse ``90s``, ``15m``, ``6h``, ``2d`` or plain seconds into seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if match is None:
        raise ValueError(f"invalid TTL {text!r}; use e.g. 90s, 15m, 6h, 2d")
    value = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if not 0 < value <= MAX_TTL_S:
        raise ValueError(f"TTL must be between 1s and {MAX_TTL_S // 86400}d")
    return value


def issue_token(
    secret: str,
    user_id: str,
    name: str,
    language: str,
    ttl_s: int,
    kind: str = USER_KIND,
    role: str = USER_ROLE,
) -> str:
    """Sign a token for ``user_id``, valid for ``ttl_s`` seconds.

    Only an ``admin`` role is written into the token: a user's token stays
    what it always was.
    """
    if not USER_ID.fullmatch(user_id):
        raise ValueError("user id is 1-128 letters, digits or . _ @ : -")
    if role not in ROLES:
        raise ValueError(f"role is one of {', '.join(ROLES)}")
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": user_id,
        "name": name,
        "lang": normalize_language(language),
        "kind": kind,
        "iat": now,
        "exp": now + ttl_s,
    }
    if role != USER_ROLE:
        claims["role"] = role
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def issue_agent_token(secret: str, worker_id: str, ttl_s: int) -> str:
    """Sign an agent worker's token with the agent secret, valid for ``ttl_s`` seconds."""
    if not USER_ID.fullmatch(worker_id):
        raise ValueError("worker id is 1-128 letters, digits or . _ @ : -")
    now = int(time.time())
    claims = {"sub": worker_id, "kind": AGENT_KIND, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_agent_token(secret: str, token: str) -> Identity:
    """Check an agent worker's token against the agent secret; ``user_id`` is the worker id.

    Raises:
        TokenError: as :func:`verify_token`, or ``wrong_token_kind`` for a
            valid token that is not an agent's.
    """
    return _verify_kind(secret, token, AGENT_KIND)


def verify_user_token(secret: str, token: str) -> Identity:
    """Check a user's token; an agent's token never lets anyone in as a user.

    Raises:
        TokenError: as :func:`verify_token`, or ``wrong_token_kind``.
    """
    return _verify_kind(secret, token, USER_KIND)


def _verify_kind(secret: str, token: str, kind: str) -> Identity:
    identity = verify_token(secret, token)
    if identity.kind != kind:
        raise TokenError("wrong_token_kind", f"a {identity.kind} token cannot act as {kind}")
    return identity


def verify_token(secret: str, token: str) -> Identity:
    """Check a token's signature and expiry and return who it names.

    Raises:
        TokenError: ``token_expired``, or ``invalid_token`` for anything forged,
            malformed or missing claims.
    """
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat"]}
        )
    except jwt.ExpiredSignatureError as error:
        raise TokenError("token_expired", "the token has expired") from error
    except jwt.PyJWTError as error:
        raise TokenError("invalid_token", f"the token is not valid: {error}") from error
    user_id = claims["sub"]
    if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
        raise TokenError("invalid_token", "the token names no valid user")
    try:
        language = normalize_language(str(claims.get("lang") or "en"))
    except UnknownLanguageError as error:
        raise TokenError("invalid_token", str(error)) from error
    role = claims.get("role", USER_ROLE)
    if role not in ROLES:
        raise TokenError("invalid_token", f"the token's role is not one of {', '.join(ROLES)}")
    return Identity(
        user_id=user_id,
        name=str(claims.get("name") or user_id)[:100],
        language=language,
        kind=str(claims.get("kind") or USER_KIND),
        role=role,
    )
