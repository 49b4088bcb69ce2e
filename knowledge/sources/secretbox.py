"""Credentials encrypted at rest with a Fernet key from the settings (REPLYDESK_SECRET_KEY).

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) authenticates as well as encrypts, so a
tampered or foreign token is refused rather than decrypted into garbage.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken

from knowledge.errors import SecretKeyMissing

__all__ = ["SecretBox", "new_key"]

_HOW = "create one with `replydesk orders keygen` and set REPLYDESK_SECRET_KEY for every worker"


def new_key() -> str:
    return Fernet.generate_key().decode()


class SecretBox:
    def __init__(self, key: str | None) -> None:
        self._fernet: Fernet | None = None
        if key:
            try:
                self._fernet = Fernet(key.encode())
            except (ValueError, TypeError) as exc:
                raise SecretKeyMissing(f"REPLYDESK_SECRET_KEY is not a valid Fernet key: {_HOW}") from exc

    @property
    def ready(self) -> bool:
        return self._fernet is not None

    def _f(self) -> Fernet:
        if self._fernet is None:
            raise SecretKeyMissing(f"REPLYDESK_SECRET_KEY is not set, so order-source credentials cannot be "
                                   f"stored or read: {_HOW}")
        return self._fernet

    def seal(self, secrets: dict[str, str]) -> str:
        return self._f().encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, str]:
        try:
            data = json.loads(self._f().decrypt(token.encode()))
        except InvalidToken as exc:
            raise SecretKeyMissing("the stored order-source credentials cannot be decrypted with this "
                                   "REPLYDESK_SECRET_KEY (it is not the key they were stored with)") from exc
        return {str(k): str(v) for k, v in data.items()}
