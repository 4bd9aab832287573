"""Project wiring: Django's PostgreSQL backend, made to fail fast instead of hanging.

* ``connect_timeout`` (``DATABASE_CONNECT_TIMEOUT``, 2 s) bounds connecting, and in serving
  processes ``statement_timeout`` (``DATABASE_STATEMENT_TIMEOUT``, 2 s) bounds each statement
  on a server that still works (`movierec.env.database_from_url`).
* A server that is frozen (SIGSTOP, a hung host) answers nothing at all, and libpq has no
  client-side timeout for a query: a watchdog thread shuts the connection's socket down
  when a statement, commit, rollback or health check has waited ``GUARD_SECONDS`` (the
  statement timeout plus one second). libpq then reports a lost connection, which Django
  raises as `OperationalError`.
* A circuit breaker: after a failure to connect or a lost connection, this process gives up
  on the database for ``DATABASE_BREAKER_SECONDS`` (connecting raises `OperationalError` at
  once), then lets one attempt through. A request needing the database answers 503 at once
  meanwhile (`movierec.exception_handler`), and recovery needs no restart.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.postgresql import base
from django.db.utils import InterfaceError, OperationalError

from movierec.cache import CircuitBreaker

GUARD_OPTION = "GUARD_SECONDS"
BREAKER_OPTION = "BREAKER_SECONDS"
DEFAULT_BREAKER_SECONDS = 1.0
HEALTH_CHECK_SECONDS = 1.0


class Deadline:
    fired = False


class Watchdog:
    """Shuts down the socket of a connection whose call outlives its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._active: dict[int, tuple[int, Deadline]] = {}  # ticket -> (socket fd, deadline)
        self._tickets = itertools.count()
        self._thread: threading.Thread | None = None

    @contextmanager
    def deadline(self, fd: int, seconds: float) -> Iterator[Deadline]:
        ticket = next(self._tickets)
        deadline = Deadline()
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
            self._active[ticket] = (fd, deadline)
            heapq.heappush(self._heap, (time.monotonic() + seconds, ticket))
            self._cond.notify()
        try:
            yield deadline
        finally:
            with self._cond:
                self._active.pop(ticket, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][1] not in self._active:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._cond.wait()
                    continue
                due, ticket = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                fd, deadline = self._active.pop(ticket)
                deadline.fired = True
                # Under the lock: the caller cannot finish (and its socket be closed and the
                # number reused) while this runs.
                _shut_down(fd)


def _shut_down(fd: int) -> None:
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()  # the descriptor stays libpq's to close


watchdog = Watchdog()
breakers: dict[str, CircuitBreaker] = {}


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = self.settings_dict.get("OPTIONS", {})
        self.guard_seconds = float(options.get(GUARD_OPTION) or 0)
        seconds = float(options.get(BREAKER_OPTION) or DEFAULT_BREAKER_SECONDS)
        self.breaker = breakers.setdefault(
            self.alias, CircuitBreaker(seconds=seconds, name=f"database {self.alias}")
        )
        self.execute_wrappers.append(self._guarded_execute)

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        params.pop(GUARD_OPTION, None)
        params.pop(BREAKER_OPTION, None)
        return params

    def connect(self) -> None:
        if not self.breaker.allow():
            raise OperationalError("The database is unavailable (circuit open).")
        try:
            super().connect()
        except Exception as exc:  # psycopg's own errors here: Django wraps them further out
            self.breaker.failed(exc)
            raise
        self.breaker.succeeded()

    def init_connection_state(self) -> None:
        with self._guard():
            super().init_connection_state()

    def is_usable(self) -> bool:
        if self.breaker.is_open:
            return False
        # A health check is one "SELECT 1": a second is plenty before calling the server gone.
        with self._guard(min(self.guard_seconds, HEALTH_CHECK_SECONDS)) as deadline:
            usable = bool(super().is_usable())
        if deadline.fired:
            self.breaker.failed(TimeoutError("health check"))
        return usable

    def _commit(self) -> Any:
        return self._watched(super()._commit)  # type: ignore[misc]

    def _rollback(self) -> Any:
        return self._watched(super()._rollback)  # type: ignore[misc]

    def _guarded_execute(
        self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any
    ) -> Any:
        return self._watched(lambda: execute(sql, params, many, context))

    def _watched(self, call: Callable[[], Any]) -> Any:
        try:
            with self._guard():
                return call()
        except (OperationalError, InterfaceError) as exc:
            if self.connection is None or self.connection.closed:
                self.breaker.failed(exc)  # the connection is gone, not just the statement
            raise

    @contextmanager
    def _guard(self, seconds: float | None = None) -> Iterator[Deadline]:
        seconds = self.guard_seconds if seconds is None else seconds
        connection = self.connection
        if not seconds or connection is None or connection.closed:
            yield Deadline()
            return
        try:
            fd = connection.fileno()
        except Exception:
            yield Deadline()
            return
        with watchdog.deadline(fd, seconds) as deadline:
            yield deadline
