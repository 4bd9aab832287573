"""accounts: the API key model: a prefix and a SHA-512 hash; the key itself is never stored."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager


class ApiKeyManager(APIKeyManager):
    """The library's manager, except that the primary key stays an integer.

    The library's own ``assign_key`` uses ``"<prefix>.<hash>"`` as the primary key, which would
    put the key's hash into admin URLs and token claims; here the pk is a plain auto id.
    """

    def assign_key(self, obj: AbstractAPIKey) -> str:
        key, prefix, hashed_key = self.key_generator.generate()
        obj.prefix = prefix
        obj.hashed_key = hashed_key
        return key


class ApiKey(AbstractAPIKey):
    """A named API key: ``prefix`` (public, unique) and ``hashed_key`` (``sha512$$<hex>``).

    From the library: ``name``, ``prefix``, ``hashed_key``, ``created``, ``revoked`` (cannot be
    undone: ``save()`` refuses), ``expiry_date``, ``has_expired``, ``is_valid(key)``.
    """

    id = models.BigAutoField(primary_key=True)  # type: ignore[assignment]
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    use_count = models.PositiveBigIntegerField(default=0, editable=False)

    objects: ClassVar[ApiKeyManager] = ApiKeyManager()  # type: ignore[misc]

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
