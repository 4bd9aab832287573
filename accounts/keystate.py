"""accounts: key state held in each process, and the Redis channel that invalidates it.

Every authenticated request needs to know whether its key is still usable. Reading that from
Redis or the database on each request costs more than the rest of the request; so each
process keeps what it read from the database (the source of truth) for at most
``API_KEY_STATE_TTL`` seconds, and every change made through `accounts.services` is
broadcast on a Redis pub/sub channel. A listener thread in each process drops (or, for a
revocation, replaces) the entry within milliseconds.

The TTL is the bound that holds whatever Redis does: a process that misses a message (Redis
stopped, hung, or the listener reconnecting) re-reads the database when the entry expires,
and after every (re)subscription the listener marks all entries stale, because messages may
have been missed meanwhile: the next request re-reads the database, and a stale entry is kept
only as the fallback for a database outage (``API_KEY_STATE_GRACE_SECONDS``), so a Redis blip
followed by a database outage does not turn every held key into a 503. Redis holds no key
state at all, so a Redis that comes back with old data cannot bring a revoked key back. A
revoked state is final in this store too: nothing replaces it with a usable one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db import connection

from movierec.cache import redis_cache, redis_errors

if TYPE_CHECKING:
    from accounts.selectors import KeyState

logger = logging.getLogger(__name__)

_CHANNEL = "{prefix}:{database}:accounts:key-state"
_PING_SECONDS = 5.0
_REVOKED = "revoked"
_CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class Entry:
    state: KeyState | None  # None: no such key
    read_at: float  # time.monotonic() of the database read behind it
    stale: bool = False  # a change may have been missed: re-read before trusting it


class LocalStates:
    """key id -> `Entry`; thread-safe, reset in a forked child."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[int, Entry] = {}
        # Bumped by every invalidation: a database read that began before one must not be
        # stored after it (it may hold the state from before the change).
        self.generation = 0

    def put(self, key_id: int, entry: Entry, *, generation: int | None = None) -> None:
        with self.lock:
            if generation is not None and generation != self.generation:
                return
            current = self.entries.get(key_id)
            if _is_revoked(current) and not _is_revoked(entry):
                return  # revocation is final
            self.entries[key_id] = entry

    def invalidate(self, key_id: int, *, revoked: bool) -> None:
        from accounts.selectors import KeyState

        with self.lock:
            self.generation += 1
            current = self.entries.pop(key_id, None)
            if revoked and current is not None and current.state is not None:
                state = current.state
                tombstone = KeyState(
                    id=state.id,
                    prefix=state.prefix,
                    name=state.name,
                    revoked=True,
                    expires_at=state.expires_at,
                )
                self.entries[key_id] = Entry(tombstone, time.monotonic())

    def forget_all(self) -> None:
        """Mark every usable state stale (revocations are final and stay as they are)."""
        with self.lock:
            self.generation += 1
            self.entries = {
                k: e if _is_revoked(e) else Entry(e.state, e.read_at, stale=True)
                for k, e in self.entries.items()
            }

    def reset(self) -> None:
        with self.lock:
            self.generation += 1
            self.entries = {}


def _is_revoked(entry: Entry | None) -> bool:
    return entry is not None and entry.state is not None and entry.state.revoked


states = LocalStates()


def channel() -> str:
    # Key ids are per database: processes on another database (another deployment, a
    # parallel test run) sharing this Redis must not act on these messages.
    database = connection.settings_dict.get("NAME", "")
    return _CHANNEL.format(prefix=cache.key_prefix, database=database)


def publish(key_id: int, *, revoked: bool) -> bool:
    """Tell every process to drop its entry for the key. False if Redis could not be told
    (the others then see the change when their entry expires, within the TTL)."""
    # This process first: no need to wait for its own message.
    states.invalidate(key_id, revoked=revoked)
    redis = redis_cache(cache)
    if redis is None:
        return True  # one process, one store: done
    client = redis.client()
    if client is None:
        logger.warning(
            "key state change not broadcast: Redis unavailable", extra={"api_key_id": key_id}
        )
        return False
    message = f"{key_id}:{_REVOKED if revoked else _CHANGED}"
    try:
        client.publish(channel(), message)
    except redis_errors() as exc:
        redis.breaker.failed(exc)
        logger.warning(
            "key state change not broadcast: Redis unavailable", extra={"api_key_id": key_id}
        )
        return False
    redis.breaker.succeeded()
    return True


class Listener:
    """The per-process subscriber thread; started on first use, again after a fork."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.subscribed = threading.Event()
        self.on_revoke: list[Any] = []  # callbacks(key_id), e.g. flushing usage counts

    def ensure_started(self) -> None:
        if self.thread is not None or redis_cache(cache) is None:
            return
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="key-state-listener", daemon=True
                )
                self.thread.start()

    def reset(self) -> None:
        self.thread = None
        self.subscribed = threading.Event()

    def _run(self) -> None:
        backoff = 0.2
        while True:
            try:
                self._listen()
            except Exception as exc:  # never let the thread die: the TTL alone is a slow bound
                logger.warning(
                    "key state listener disconnected", extra={"error": exc.__class__.__name__}
                )
            self.subscribed.clear()
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    def _listen(self) -> None:
        redis = redis_cache(cache)
        if redis is None:
            return
        pubsub = redis._cache.get_client(write=True).pubsub()
        try:
            pubsub.subscribe(channel())
            pinged = time.monotonic()
            while True:
                message = pubsub.get_message(timeout=1.0)
                now = time.monotonic()
                if message is None:
                    if now - pinged > _PING_SECONDS:
                        pubsub.ping()  # a dead connection shows as an error here
                        pinged = now
                    continue
                if message["type"] == "subscribe":
                    # Anything published before this point may have been missed.
                    states.forget_all()
                    self.subscribed.set()
                elif message["type"] == "message":
                    self._handle(message["data"])
        finally:
            pubsub.close()

    def _handle(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        raw_id, _, kind = text.partition(":")
        try:
            key_id = int(raw_id)
        except ValueError:
            return
        revoked = kind == _REVOKED
        states.invalidate(key_id, revoked=revoked)
        if revoked:
            for callback in self.on_revoke:
                try:
                    callback(key_id)
                except Exception:
                    logger.exception("on-revoke callback failed", extra={"api_key_id": key_id})


listener = Listener()


def _after_fork_in_child() -> None:
    states.reset()
    listener.reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
