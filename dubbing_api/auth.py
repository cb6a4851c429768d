"""Bearer tokens mapped to a user and a role, kept hashed (SHA-256) in a JSON file and compared
in constant time. Make an entry with ``python -m dubbing_api.auth USER ROLE``."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from dubbing_api.errors import ApiError, error_response

Role = Literal["user", "admin", "worker"]
ROLES: tuple[Role, ...] = ("user", "admin", "worker")


@dataclass(frozen=True)
class Principal(BaseUser):
    user_id: str
    role: Role

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.user_id

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def owns(self, user_id: str | None) -> bool:
        """Admins see everything; anyone else only what carries their own user id."""
        return self.is_admin or user_id == self.user_id


class TokenStore:
    """``{"<sha256 of token>": {"user": "alice", "role": "user"}, ...}``"""

    def __init__(self, entries: dict[str, dict[str, str]]) -> None:
        self._entries = [
            (bytes.fromhex(digest), Principal(e["user"], e["role"]))  # type: ignore[arg-type]
            for digest, e in entries.items()
            if e.get("role") in ROLES
        ]

    @classmethod
    def from_file(cls, path: str) -> TokenStore:
        file = Path(path)
        return cls(json.loads(file.read_text()) if file.exists() else {})

    def lookup(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for candidate, principal in self._entries:  # no early exit: time does not leak a match
            if hmac.compare_digest(candidate, digest):
                found = principal
        return found


WS_AUTH_ERROR = "dubbing.auth_error"  # scope key: why a WebSocket's token was refused


class BearerAuth(AuthenticationBackend):
    """``Authorization: Bearer <token>``; WebSockets may pass ``?token=`` instead."""

    def __init__(self, tokens: TokenStore) -> None:
        self.tokens = tokens

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, Principal] | None:
        scheme, _, token = conn.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            token = conn.query_params.get("token", "") if conn.scope["type"] == "websocket" else ""
        if not token:
            return None
        principal = self.tokens.lookup(token.strip())
        if principal is None and conn.scope["type"] == "websocket":
            # /ws refuses it itself, as an HTTP 401 (the middleware could only close the socket,
            # which the server turns into a 403).
            conn.scope[WS_AUTH_ERROR] = "unknown or revoked token"
            return None
        if principal is None:
            raise AuthenticationError("unknown or revoked token")
        return AuthCredentials([principal.role]), principal


def auth_failed(_: HTTPConnection, exc: AuthenticationError) -> JSONResponse:
    return error_response(401, "unauthorized", str(exc))


def principal(conn: HTTPConnection, *roles: Role) -> Principal:
    """The caller, who must be signed in and (if roles are given) hold one of them."""
    user = conn.user
    if not isinstance(user, Principal):
        raise ApiError(401, "unauthorized", "a bearer token is required")
    if roles and user.role not in roles:
        raise ApiError(403, "forbidden", f"this needs the role {' or '.join(roles)}")
    return user


def main() -> None:
    """Print a new token and the JSON entry that grants it."""
    user, role = sys.argv[1], sys.argv[2]
    if role not in ROLES:
        raise SystemExit(f"role must be one of {ROLES}")
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    print(f"token: {token}\nentry: {json.dumps({digest: {'user': user, 'role': role}})}")


if __name__ == "__main__":
    main()
