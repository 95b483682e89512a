"""Rate limits on the doors that guess secrets: sign-in, password reset, invitation and reset
links, the second factor, and the signed-in pages that ask for the password or a code again.

A before_request hook keyed by endpoint, so the auth views know nothing of it: a POST over a
limit is answered 429 (with Retry-After and a page that says how long to wait), audited as
"ratelimit.refused", and never reaches the view, so no password is checked.

Each POST counts against two budgets: the client's address, and the account it names (the
normalised email typed, the emailed link's token, the user waiting for their second factor, or
the signed-in user).
Accounts are counted by a hash of that identifier, so no email address or token is stored.

Counts are shared by all gunicorn workers: in Redis when RATELIMIT_REDIS_URL is set (a sliding
window in a sorted set, updated atomically in one MULTI), otherwise in the rate_limit_hits table.
Refused attempts are not counted, so waiting the stated time is always enough."""
from __future__ import annotations

import hashlib
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app, render_template, request, session
from flask_login import current_user
from sqlalchemy import delete, func, select

from .accounts import normalise_email
from . import audit
from .extensions import db
from .models import RateLimitHit
from .timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    scope: str  # "account" or "address"
    count: int
    window: timedelta

    def describe(self) -> str:
        minutes = int(self.window.total_seconds() // 60)
        return f"{self.count} per {self.scope} in {minutes} min"


def _limits(account: int, address: int, window: timedelta) -> tuple[Limit, ...]:
    return (Limit("account", account, window), Limit("address", address, window))


QUARTER_HOUR, HOUR = timedelta(minutes=15), timedelta(hours=1)

# Keyed by endpoint name; "auth.verify" (the second factor) counts once it exists.
RULES: dict[str, tuple[Limit, ...]] = {
    "auth.login": _limits(5, 20, QUARTER_HOUR),
    "auth.request_reset": _limits(3, 20, HOUR),
    "auth.accept_invitation": _limits(5, 20, QUARTER_HOUR),
    "auth.reset_password": _limits(5, 20, QUARTER_HOUR),
    "auth.verify": _limits(5, 20, QUARTER_HOUR),
}
# Signed in, but asking for the password or a code again: a stolen session must not be able
# to guess its way to the account's secrets either. Counted per signed-in account.
SIGNED_IN_RULES: dict[str, tuple[Limit, ...]] = {
    endpoint: _limits(5, 20, QUARTER_HOUR)
    for endpoint in ("auth.change_password", "auth.end_other_sessions",
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


def account_key(endpoint: str) -> str | None:
    """Who the attempt is against, as a hash; None when the request names nobody."""
    if endpoint in ("auth.accept_invitation", "auth.reset_password"):
        token = (request.view_args or {}).get("token")
        return "token:" + _digest(token) if token else None
    if endpoint in SIGNED_IN_RULES:
        return f"user:{current_user.id}" if current_user.is_authenticated else None
    if endpoint == "auth.verify":
        pending = session.get("2fa_user_id")
        return f"user:{pending}" if pending is not None else None
    email = normalise_email(request.form.get("email") or "")
    return "email:" + _digest(email) if email else None


def enforce():
    """before_request: refuse a POST over any of its endpoint's limits."""
    if request.method != "POST" or not current_app.config["RATELIMIT_ENABLED"]:
        return None
    limits = RULES.get(request.endpoint or "")
    if not limits:
        return None
    who = {"account": account_key(request.endpoint), "address": request.remote_addr or "unknown"}
    prefix = current_app.config["RATELIMIT_KEY_PREFIX"]
    store = _store()
    for limit in limits:
        if who[limit.scope] is None:
            continue
        key = f"{prefix}{request.endpoint}:{limit.scope}:{who[limit.scope]}"
        wait = store.hit(key, limit)
        if wait is not None:
            return too_many(limit, wait)
    return None


def too_many(limit: Limit, wait: timedelta):
    seconds = max(1, math.ceil(wait.total_seconds()))
    minutes = max(1, math.ceil(seconds / 60))
    audit.after_response("ratelimit.refused", detail=f"{request.endpoint}: {limit.describe()}")
    log.warning("rate limit: refused %s (%s)", request.endpoint, limit.describe())
    page = render_template("errors/429.html", minutes=minutes)
    return page, 429, {"Retry-After": str(seconds)}


# --- Storage ---------------------------------------------------------------------------------

class DatabaseStore:
    """One row per counted attempt. Insert, commit, then count: two workers racing at the edge
    both see both attempts, so a race can only refuse, never let an extra guess through."""

    def hit(self, key: str, limit: Limit) -> timedelta | None:
        now = utcnow()
        since = now - limit.window
        db.session.execute(delete(RateLimitHit).where(RateLimitHit.key == key, RateLimitHit.at <= since))
        if secrets.randbelow(PRUNE_ONE_IN) == 0:
            db.session.execute(delete(RateLimitHit).where(RateLimitHit.at <= now - LONGEST_WINDOW))
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


class RedisStore:
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


class FallbackStore:
    """Redis, and the database for any request that finds Redis unreachable: a limiter that
    fails open would stop guarding, one that fails closed would lock the whole clinic out."""

    def __init__(self, primary, fallback):
        self.primary, self.fallback = primary, fallback

    def hit(self, key: str, limit: Limit) -> timedelta | None:
        import redis

        try:
            return self.primary.hit(key, limit)
        except redis.RedisError as error:
            log.error("rate limit: Redis unavailable (%s); counting in the database", type(error).__name__)
            return self.fallback.hit(key, limit)


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
