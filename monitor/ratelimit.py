"""Rate limits on the doors that guess secrets: sign-in, password reset, invitation and reset
links, the second factor, and the signed-in pages that ask for the password or a code again.

A before_request hook keyed by endpoint: a POST over a limit is answered 429 (with Retry-After
and a page that says how long to wait), audited as "ratelimit.refused", and never reaches the
view, so no password is checked.

Each POST counts against budgets keyed by the client's address, the account it names (the
normalised email typed, the emailed link's token, the user waiting for their second factor, or
the signed-in user), or the pair of the two. Accounts are counted by a hash of that identifier,
so no email address or token is stored.

Signing in (the password and the second-factor steps) counts failures only, which the view
reports with failed(): a person signing in again and again on their own devices is never
refused. Failures are limited per account-and-address pair and per address, so a stranger
cannot lock a known address out; an account failing from many addresses is slowed by a delay
that doubles with each further failure, except on a device that has signed in to it before
(remember_device), so its owner's right password still works from their usual phone.

Counts are shared by all gunicorn workers: in Redis when RATELIMIT_REDIS_URL is set (a sliding
window in a sorted set, updated atomically in one MULTI), otherwise in the rate_limit_hits table.
Refused attempts are not counted, so waiting the stated time is always enough."""
from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, after_this_request, current_app, render_template, request, session
from flask_login import current_user
from sqlalchemy import delete, func, select

from .accounts import find_by_email, normalise_email
from . import audit
from .extensions import db
from .models import RateLimitHit
from .timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    scope: str  # "account", "address", or "pair" (that account from that address)
    count: int
    window: timedelta

    def describe(self) -> str:
        minutes = int(self.window.total_seconds() // 60)
        scope = "account and address" if self.scope == "pair" else self.scope
        return f"{self.count} per {scope} in {minutes} min"


def _limits(account: int, address: int, window: timedelta) -> tuple[Limit, ...]:
    return (Limit("account", account, window), Limit("address", address, window))


QUARTER_HOUR, HOUR = timedelta(minutes=15), timedelta(hours=1)

# Keyed by endpoint name; "auth.verify" (the second factor) counts once it exists.
RULES: dict[str, tuple[Limit, ...]] = {
    "auth.login": (Limit("pair", 5, QUARTER_HOUR), Limit("address", 20, QUARTER_HOUR)),
    "auth.request_reset": _limits(3, 20, HOUR),
    "auth.accept_invitation": _limits(5, 20, QUARTER_HOUR),
    "auth.reset_password": _limits(5, 20, QUARTER_HOUR),
    "auth.verify": _limits(5, 20, QUARTER_HOUR),
    "auth.lost_second_factor": _limits(3, 20, HOUR),
    "auth.two_factor_off": _limits(5, 20, QUARTER_HOUR),
}
# Only failures count on these (the view calls failed()): see the module docstring.
FAILURES_ONLY = {"auth.login", "auth.verify"}
# An account with this many failed sign-ins in the window, from anywhere, is slowed: each
# attempt from a device not known to it waits 2, 4, 8 ... seconds after the last failure, at
# most SLOW_LONGEST. The owner's known devices are not slowed.
SLOW = Limit("account", 10, QUARTER_HOUR)
SLOW_LONGEST = QUARTER_HOUR
DEVICE_COOKIE = "device"
DEVICE_DAYS = 400  # the longest lifetime browsers allow a cookie
# Signed in, but asking for the password or a code again: a stolen session must not be able
# to guess its way to the account's secrets either. Counted per signed-in account.
SIGNED_IN_RULES: dict[str, tuple[Limit, ...]] = {
    endpoint: _limits(5, 20, QUARTER_HOUR)
    for endpoint in ("auth.change_password", "auth.end_other_sessions", "auth.enrol_two_factor",
                     "auth.regenerate_recovery_codes", "auth.disable_two_factor")
}
RULES.update(SIGNED_IN_RULES)
LONGEST_WINDOW = max(limit.window for limits in RULES.values() for limit in limits)
# One hit in this many also sweeps every expired row from the table.
PRUNE_ONE_IN = 100


def init_app(app: Flask) -> None:
    app.before_request(enforce)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _keys(endpoint: str) -> dict[str, str | None]:
    account = account_key(endpoint)
    address = request.remote_addr or "unknown"
    return {"account": account, "address": address, "pair": f"{account}@{address}" if account else None}


def _key(endpoint: str, scope: str, who: str) -> str:
    return f"{current_app.config['RATELIMIT_KEY_PREFIX']}{endpoint}:{scope}:{who}"


def account_key(endpoint: str) -> str | None:
    """Who the attempt is against, as a hash; None when the request names nobody."""
    if endpoint in ("auth.accept_invitation", "auth.reset_password", "auth.two_factor_off"):
        token = (request.view_args or {}).get("token")
        return "token:" + _digest(token) if token else None
    if endpoint in SIGNED_IN_RULES:
        return f"user:{current_user.id}" if current_user.is_authenticated else None
    if endpoint in ("auth.verify", "auth.lost_second_factor"):
        pending = session.get("2fa_user_id")
        return f"user:{pending}" if pending is not None else None
    email = normalise_email(request.form.get("email") or "")
    return "email:" + _digest(email) if email else None


def enforce():
    """before_request: refuse a POST over any of its endpoint's limits."""
    if request.method != "POST" or not current_app.config["RATELIMIT_ENABLED"]:
        return None
    endpoint = request.endpoint or ""
    limits = RULES.get(endpoint)
    if not limits:
        return None
    who = _keys(endpoint)
    store = _store()
    for limit in limits:
        if who[limit.scope] is None:
            continue
        key = _key(endpoint, limit.scope, who[limit.scope])
        # Where only failures count, look without counting; failed() counts.
        wait = store.over(key, limit) if endpoint in FAILURES_ONLY else store.hit(key, limit)
        if wait is not None:
            return too_many(limit, wait)
    if endpoint == "auth.login" and who["account"] is not None:
        wait = _slowed(store.recent(_key(endpoint, SLOW.scope, who["account"]), SLOW.window))
        # The device is looked at only for a slowed account: an account lookup, not on every sign-in.
        if wait is not None and not _known_device():
            return too_many(SLOW, wait, slowed=True)
    return None


def failed() -> None:
    """The view's word that this sign-in attempt failed (a wrong password, an unknown or
    inactive account, a wrong code): it counts against the endpoint's budgets."""
    endpoint = request.endpoint or ""
    if endpoint not in FAILURES_ONLY or request.method != "POST" or not current_app.config["RATELIMIT_ENABLED"]:
        return
    who = _keys(endpoint)
    store = _store()
    limits = RULES[endpoint] + ((SLOW,) if endpoint == "auth.login" else ())
    for limit in limits:
        if who[limit.scope] is not None:
            store.add(_key(endpoint, limit.scope, who[limit.scope]), limit.window)


def _slowed(recent: tuple[int, datetime | None, datetime | None]) -> timedelta | None:
    """How long an attempt on a slowed account must still wait after its latest failure."""
    count, _, latest = recent
    if count < SLOW.count or latest is None:
        return None
    delay = min(SLOW_LONGEST, timedelta(seconds=2 ** (count - SLOW.count + 1)))
    now = utcnow()
    if latest.tzinfo is None:  # SQLite hands back naive UTC
        latest = latest.replace(tzinfo=now.tzinfo)
    wait = latest + delay - now
    return wait if wait > timedelta(0) else None


# --- Known devices: a browser that has signed in to an account before --------------------

def _device_mark(user) -> str:
    """Opaque: a keyed hash of the account and its session epoch (a password change forgets
    every device). Nothing in it names the account."""
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    message = f"sign-in device:{user.id}:{user.session_epoch or 0}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def _device_cookie_name() -> str:
    return ("__Host-" if current_app.config["SESSION_COOKIE_SECURE"] else "") + DEVICE_COOKIE


def remember_device(user) -> None:
    """After a complete sign-in: mark this browser as one of the account's devices."""
    mark = _device_mark(user)

    @after_this_request
    def set_cookie(response):
        response.set_cookie(_device_cookie_name(), mark, max_age=DEVICE_DAYS * 24 * 3600, path="/",
                            secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax")
        return response


def _known_device() -> bool:
    mark = request.cookies.get(_device_cookie_name())
    if not mark:
        return False
    user = find_by_email(request.form.get("email") or "")
    return user is not None and hmac.compare_digest(mark, _device_mark(user))


def too_many(limit: Limit, wait: timedelta, *, slowed: bool = False):
    seconds = max(1, math.ceil(wait.total_seconds()))
    minutes = max(1, math.ceil(seconds / 60))
    what = "account slowed after " + limit.describe() if slowed else limit.describe()
    audit.after_response("ratelimit.refused", detail=f"{request.endpoint}: {what}")
    log.warning("rate limit: refused %s (%s)", request.endpoint, what)
    page = render_template("errors/429.html", minutes=minutes)
    return page, 429, {"Retry-After": str(seconds)}


# --- Storage ---------------------------------------------------------------------------------

class _Store:
    def over(self, key: str, limit: Limit) -> timedelta | None:
        """How long to wait when the key's attempts already fill the limit; counts nothing."""
        count, oldest, _ = self.recent(key, limit.window)
        return _wait(oldest, limit.window, utcnow()) if count >= limit.count else None


class DatabaseStore(_Store):
    """One row per counted attempt. Insert, commit, then count: two workers racing at the edge
    both see both attempts, so a race can only refuse, never let an extra guess through."""

    @staticmethod
    def _prune_now_and_then(now: datetime) -> None:
        if secrets.randbelow(PRUNE_ONE_IN) == 0:
            db.session.execute(delete(RateLimitHit).where(RateLimitHit.at <= now - LONGEST_WINDOW))

    def hit(self, key: str, limit: Limit) -> timedelta | None:
        now = utcnow()
        since = now - limit.window
        db.session.execute(delete(RateLimitHit).where(RateLimitHit.key == key, RateLimitHit.at <= since))
        self._prune_now_and_then(now)
        mine = RateLimitHit(key=key, at=now)
        db.session.add(mine)
        # Its own transaction before counting, so that a concurrent worker's count sees it.
        db.session.commit()
        count, oldest = db.session.execute(
            select(func.count(), func.min(RateLimitHit.at))
            .where(RateLimitHit.key == key, RateLimitHit.at > since, RateLimitHit.id != mine.id)
        ).one()
        if count < limit.count:
            return None
        db.session.execute(delete(RateLimitHit).where(RateLimitHit.id == mine.id))
        # Refused attempts are not counted: the deletion stands whatever the request does next.
        db.session.commit()
        return _wait(oldest, limit.window, now)

    def recent(self, key: str, window: timedelta) -> tuple[int, datetime | None, datetime | None]:
        """(count, oldest, latest) of the attempts still in the window."""
        count, oldest, latest = db.session.execute(
            select(func.count(), func.min(RateLimitHit.at), func.max(RateLimitHit.at))
            .where(RateLimitHit.key == key, RateLimitHit.at > utcnow() - window)).one()
        return count, oldest, latest

    def add(self, key: str, window: timedelta) -> None:
        now = utcnow()
        self._prune_now_and_then(now)
        db.session.add(RateLimitHit(key=key, at=now))
        # Its own transaction: the failure counts whatever the request does next.
        db.session.commit()


class RedisStore(_Store):
    """A sliding window per key: a sorted set of attempt instants (scores in seconds)."""

    def __init__(self, client):
        self.client = client

    def hit(self, key: str, limit: Limit) -> timedelta | None:
        now = utcnow()
        now_s, window_s = now.timestamp(), limit.window.total_seconds()
        member = f"{now_s:.6f}:{secrets.token_hex(6)}"
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now_s - window_s)
            pipe.zadd(key, {member: now_s})
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
            pipe.expire(key, math.ceil(window_s) + 1)
            _, _, count, oldest, _ = pipe.execute()
        if count <= limit.count:
            return None
        self.client.zrem(key, member)
        oldest_at = datetime.fromtimestamp(oldest[0][1], tz=now.tzinfo) if oldest else now
        return _wait(oldest_at, limit.window, now)

    def recent(self, key: str, window: timedelta) -> tuple[int, datetime | None, datetime | None]:
        now = utcnow()
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now.timestamp() - window.total_seconds())
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
            pipe.zrange(key, -1, -1, withscores=True)
            _, count, oldest, latest = pipe.execute()
        at = lambda pairs: datetime.fromtimestamp(pairs[0][1], tz=now.tzinfo) if pairs else None  # noqa: E731
        return count, at(oldest), at(latest)

    def add(self, key: str, window: timedelta) -> None:
        now_s = utcnow().timestamp()
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {f"{now_s:.6f}:{secrets.token_hex(6)}": now_s})
            pipe.expire(key, math.ceil(window.total_seconds()) + 1)
            pipe.execute()


class FallbackStore:
    """Redis, and the database for any request that finds Redis unreachable: a limiter that
    fails open would stop guarding, one that fails closed would lock the whole clinic out."""

    def __init__(self, primary, fallback):
        self.primary, self.fallback = primary, fallback

    def _either(self, method: str, *args):
        import redis

        try:
            return getattr(self.primary, method)(*args)
        except redis.RedisError as error:
            log.error("rate limit: Redis unavailable (%s); counting in the database", type(error).__name__)
            return getattr(self.fallback, method)(*args)

    def hit(self, key: str, limit: Limit) -> timedelta | None:
        return self._either("hit", key, limit)

    def recent(self, key: str, window: timedelta):
        return self._either("recent", key, window)

    def add(self, key: str, window: timedelta) -> None:
        self._either("add", key, window)

    def over(self, key: str, limit: Limit) -> timedelta | None:
        return self._either("over", key, limit)


def _wait(oldest: datetime | None, window: timedelta, now: datetime) -> timedelta:
    if oldest is None:
        return window
    if oldest.tzinfo is None:  # SQLite hands back naive UTC
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return max(timedelta(seconds=1), oldest + window - now)


def _store():
    url = current_app.config.get("RATELIMIT_REDIS_URL")
    if not url:
        return DatabaseStore()
    cached = current_app.extensions.get("ratelimit")
    if cached is None or cached[0] != url:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        cached = (url, FallbackStore(RedisStore(client), DatabaseStore()))
        current_app.extensions["ratelimit"] = cached
    return cached[1]
