"""Fernet encryption of secrets at rest, and which names count as secret (no SQLAlchemy here)."""

from __future__ import annotations

from typing import overload

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from flowctl.exceptions import ConfigError, DatabaseError

MASK = "***"
_SENSITIVE_FRAGMENTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "access_token",
    "authorization",
    "credential",
)
_UNDECRYPTABLE = (
    "a stored secret cannot be decrypted with the configured [core] fernet_key; "
    "if the key was changed, set fernet_key = new,old until `flowctl rotate-fernet-key` has run"
)


class SecretCipher:
    """Encrypts with the first key of `[core] fernet_key = new,old,...` and decrypts with any of them."""

    __slots__ = ("_fernet",)

    def __init__(self, fernet_key: str) -> None:
        keys = [key.strip() for key in fernet_key.split(",") if key.strip()]
        if not keys:
            raise ConfigError(
                "[core] fernet_key is empty: set it to a key from "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            )
        self._fernet = MultiFernet([_fernet_from_key(key, number, len(keys)) for number, key in enumerate(keys)])

    def __repr__(self) -> str:
        return "SecretCipher(***)"

    @overload
    def encrypt(self, text: str) -> str: ...
    @overload
    def encrypt(self, text: None) -> None: ...
    def encrypt(self, text: str | None) -> str | None:
        """A Fernet token of `text` made with the first key; None stays None (a nullable column)."""
        if text is None:
            return None
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    @overload
    def decrypt(self, token: str) -> str: ...
    @overload
    def decrypt(self, token: None) -> None: ...
    def decrypt(self, token: str | None) -> str | None:
        """The text inside `token`, whichever configured key made it."""
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode("utf-8")).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            raise DatabaseError(_UNDECRYPTABLE) from None

    @overload
    def rotate(self, token: str) -> str: ...
    @overload
    def rotate(self, token: None) -> None: ...
    def rotate(self, token: str | None) -> str | None:
        """`token` re-encrypted with the first key, so the older keys can then be dropped."""
        if token is None:
            return None
        try:
            return self._fernet.rotate(token.encode("utf-8")).decode("ascii")
        except InvalidToken:
            raise DatabaseError(_UNDECRYPTABLE) from None


def is_sensitive_name(name: str) -> bool:
    """Whether a variable or extra field called `name` holds a secret, to be shown as `***`."""
    # People write both api-key and api_key; match the fragments on one spelling.
    normalized = name.lower().replace("-", "_")
    return any(fragment in normalized for fragment in _SENSITIVE_FRAGMENTS)


def _fernet_from_key(key: str, number: int, count: int) -> Fernet:
    try:
        return Fernet(key)
    except ValueError:  # also binascii.Error; the message must not echo the key
        raise ConfigError(
            f"[core] fernet_key is not a valid Fernet key (key {number + 1} of {count}): "
            "each comma-separated key must be 32 url-safe base64-encoded bytes"
        ) from None
