"""catalog: signal receivers. Keep `catalogue_version()` current when the admin edits movies.

The ingest writes in bulk (no signals) and refreshes the version itself. Refreshing happens after
commit: a worker that reloaded before the commit would otherwise cache the old titles under the
new version.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from catalog.models import Genre, Movie
from catalog.selectors import catalogue_version_refresh


@receiver(post_save, sender=Movie, dispatch_uid="catalog.movie_saved")
@receiver(post_delete, sender=Movie, dispatch_uid="catalog.movie_deleted")
@receiver(post_save, sender=Genre, dispatch_uid="catalog.genre_saved")
@receiver(post_delete, sender=Genre, dispatch_uid="catalog.genre_deleted")
@receiver(m2m_changed, sender=Movie.genres.through, dispatch_uid="catalog.movie_genres_changed")
def catalogue_changed(sender: Any, **kwargs: Any) -> None:
    if kwargs.get("action", "post_").startswith("post_"):
        transaction.on_commit(catalogue_version_refresh)
