"""Password and token hashing: argon2 for passwords, SHA-256 for random bearer tokens."""

import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

# argon2id, 3 passes over 64 MiB (RFC 9106's second recommended cost, argon2-cffi's default)
# in one lane, not four: the same work for whoever guesses offline, but a check keeps one
# core busy instead of both, so a flood of sign-ins leaves a core to the reads (ADR 18).
_hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=1)


# What an account that never signs in holds instead of a hash: no password matches it, and
# making it costs no argon2 run (64 MiB and a fifth of a second for a police feed's import).
NO_PASSWORD = "!"


@cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so both paths cost one argon2
    verification; made on first use (0.2 s), not by every command that imports this."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, InvalidHashError):
        return False


def rehashed(password_hash: str, password: str) -> str | None:
    """A new hash of a password just verified, when its hash was made at other costs."""
    return hash_password(password) if _hasher.check_needs_rehash(password_hash) else None


def new_token() -> str:
    """An opaque bearer token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    # A token is random and long, so a fast hash is enough (unlike a password).
    return hashlib.sha256(token.encode()).hexdigest()
