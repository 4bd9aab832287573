"""catalog: app config; connects the signal receivers that keep `catalogue_version()` current."""

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Movie catalogue"

    def ready(self) -> None:
        from catalog import signals  # noqa: F401  (connects the receivers)
