"""API tokens: made once, shown once, stored only as their SHA-256.

A token is 32 random bytes (URL-safe base64) behind a `nw_` prefix. SHA-256 is enough to store
it: a token has 256 bits of entropy, so unlike a password it cannot be guessed from its hash, and
a fast hash keeps every request's look-up cheap. The index holds one document per token, its id
the hash, so a look-up is one realtime GET.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass

TOKEN_PREFIX = "nw_"
USER_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")
CACHE_TTL_S = 10.0  # a revoked token stops working within this long

TOKENS_MAPPING = {
    "dynamic": "strict",
    "properties": {
        "token_hash": {"type": "keyword"},
        "user": {"type": "keyword"},
        "admin": {"type": "boolean"},
        "created_at": {"type": "date"},
    },
}


class TokenError(ValueError):
    """A token that cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user sees and edits their own objects; an admin sees all."""
    user: str
    admin: bool = False

    def may_see(self, owner: str | None) -> bool:
        return self.admin or owner == self.user

    @property
    def owner_filter(self) -> str | None:
        """The owner to restrict queries to, or None (an admin: everyone's)."""
        return None if self.admin else self.user


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def check_user_name(user: str) -> str:
    if not USER_PATTERN.match(user):
        raise TokenError(f"--user {user!r} is not a user name: use 1-128 letters, digits, '.', '_', '@' or '-'")
    return user


class TokenStore:
    """Token hashes in the search engine (index `api.tokens_index`)."""

    def __init__(self, backend, index: str) -> None:
        self.backend = backend
        self.index = index
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def ensure_index(self) -> None:
        client = self.backend.client
        if client.indices.exists(index=self.index):
            return
        body = {"settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": TOKENS_MAPPING}
        try:
            client.indices.create(index=self.index, body=body)
        except Exception as err:  # noqa: BLE001 - both clients' 400; another process may have just made it
            if "resource_already_exists" not in str(err):
                raise

    def create(self, user: str, admin: bool = False) -> str:
        """Stores the new token's hash and returns the token: the only time it exists in clear."""
        check_user_name(user)
        token = new_token()
        digest = token_hash(token)
        doc = {"token_hash": digest, "user": user, "admin": admin,
               "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.backend.client.index(index=self.index, id=digest, body=doc, refresh="true")
        return token

    def lookup(self, token: str) -> Principal | None:
        """Who holds this token, or None; answers are cached for CACHE_TTL_S."""
        digest = token_hash(token)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
            if cached and now - cached[0] < CACHE_TTL_S:
                return cached[1]
        doc = self.backend.get(self.index, digest)
        principal = Principal(doc["user"], bool(doc.get("admin"))) if doc else None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        return principal

    def users(self) -> list[dict]:
        body = {"size": 1000, "query": {"match_all": {}}, "sort": [{"user": "asc"}, {"created_at": "asc"}]}
        self.backend.refresh(self.index)
        return [h["_source"] for h in self.backend.search(self.index, body)["hits"]["hits"]]

    def revoke(self, user: str) -> int:
        """Deletes every token of `user`; returns how many."""
        found = self.backend.client.delete_by_query(index=self.index, body={"query": {"term": {"user": user}}},
                                                    refresh=True)
        found = found.body if hasattr(found, "body") else found
        with self._lock:
            self._cache.clear()
        return int(found.get("deleted", 0))
