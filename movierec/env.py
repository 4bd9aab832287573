"""Project wiring: typed readers for environment variables (Django-free).

Settings read every knob through these helpers so that a wrong value fails at start-up
with a message naming the variable, instead of surfacing later as a strange behaviour.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse


class EnvError(ValueError):
    """An environment variable is set to something that cannot be used."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    # An empty value (``NAME=`` in an env file) means "not set", as in .env.example.
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise EnvError(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(f"{name} must be an integer, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise EnvError(f"{name} must be at least {minimum}, not {number}")
    return number


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise EnvError(f"{name} must be a number, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


_PG_SCHEMES = {"postgres", "postgresql", "pgsql"}


def database_from_url(
    url: str,
    *,
    conn_max_age: int = 0,
    connect_timeout: float = 0,
    statement_timeout: float = 0,
    breaker_seconds: float = 0,
) -> dict[str, object]:
    """Turn ``postgres://user:pass@host:5432/name?sslmode=require`` into DATABASES['default'].

    Postgres gets the project's backend (`movierec.postgres`) with ``connect_timeout`` and,
    when ``statement_timeout`` (seconds) is set, a server-side statement timeout and a
    client-side watchdog one second longer; 0 means none. Query parameters in the URL win.
    """
    parsed = urlparse(url)
    if parsed.scheme in _PG_SCHEMES:
        name = unquote(parsed.path.lstrip("/"))
        if not name:
            raise EnvError("DATABASE_URL must name a database: postgres://user@host:5432/NAME")
        options: dict[str, object] = {}
        if connect_timeout > 0:
            # libpq takes whole seconds; 1 is its smallest working value.
            options["connect_timeout"] = str(max(1, round(connect_timeout)))
        if statement_timeout > 0:
            options["options"] = f"-c statement_timeout={round(statement_timeout * 1000)}"
            options["GUARD_SECONDS"] = statement_timeout + 1
        if breaker_seconds > 0:
            options["BREAKER_SECONDS"] = breaker_seconds
        options.update({key: values[-1] for key, values in parse_qs(parsed.query).items()})
        return {
            "ENGINE": "movierec.postgres",
            "NAME": name,
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": conn_max_age,
            "CONN_HEALTH_CHECKS": conn_max_age > 0,
            "OPTIONS": options,
        }
    if parsed.scheme == "sqlite":
        # sqlite:////absolute/path.sqlite3 or sqlite:///relative.sqlite3
        path = unquote(url[len("sqlite://") :]).lstrip("/") if url.startswith("sqlite:///") else ""
        if url.startswith("sqlite:////"):
            path = "/" + path
        if not path:
            raise EnvError("DATABASE_URL for SQLite must be sqlite:///path/to/file.sqlite3")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    raise EnvError(
        f"DATABASE_URL scheme {parsed.scheme!r} is not supported (postgres://, sqlite:///)"
    )


def load_local_env(path: os.PathLike[str] | str) -> list[str]:
    """Fill os.environ from a development env file (``NAME=value`` lines); return the names set.

    Only ``manage.py`` calls this, with the git-ignored ``.env.local`` that ``make`` writes on
    a development checkout; gunicorn, the image and the settings never read a file. Variables
    already in the environment win, and an explicit ``DJANGO_DEBUG`` (``0`` or ``1``) means the
    caller configures the process itself: then the file is not read at all, so
    ``DJANGO_DEBUG=0 python manage.py check --deploy`` still needs a real secret.
    """
    if "DJANGO_DEBUG" in os.environ:
        return []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    applied = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise EnvError(f"{path}, line {number}: expected NAME=value, not {raw!r}")
        if name not in os.environ:
            os.environ[name] = value.strip()
            applied.append(name)
    return applied
