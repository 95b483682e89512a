"""Flask's `session` kept on the server: the cookie holds a random token and nothing else.

Flask's own session is a signed cookie: signed, not encrypted, so anyone holding the cookie
could read what it carried by decoding it (a provider's patient-name search, the authenticator
secret being enrolled). Here the data lives in the web_sessions table, keyed by a SHA-256 of
the token, so a copy of the database gives no usable cookie either.

- No data, no row and no cookie. (The sign-in page stores a CSRF token, so anonymous rows do
  exist; they last no longer than a signed-in browser session and are pruned now and then.)
- Read once, on first use of `session` in a request (a static file costs nothing); written
  only when changed, and for a permanent session (a patient kept signed in) at most once a
  minute besides, to push back its expiry while it is used. One that ends with the browser
  is dropped on the server `browser_lifetime` after its last change: signing in is a change,
  and no sign-in it carries lasts longer (sessions.browser_session_lifetime).
- session.clear() and renew() retire the token: its row is deleted and any data left gets a
  new token, so a cookie planted or copied before signing in or out is worth nothing after.
- Two requests of one browser at once: the last write wins. A row deleted meanwhile (signed
  out in another tab) stays deleted; the late request's changes are dropped, never an error.
"""
import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .models import WebSession
from .timeutil import utcnow

log = logging.getLogger(__name__)

# A live session's expiry is pushed back at most this often: a page with many requests costs
# one write a minute, not one per request.
TOUCH_EVERY = timedelta(minutes=1)
# One new row in this many also sweeps the expired ones from the table.
PRUNE_ONE_IN = 100
# secrets.token_urlsafe(32): anything else in the cookie is not ours and is not looked up.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")

_SERIALIZER = TaggedJSONSerializer()  # JSON, with bytes, datetimes, tuples and Markup tagged
# Built once (as sessions._USER_AND_ROW): this runs on nearly every request.
_LOAD = (select(WebSession.data, WebSession.updated_at)
         .where(WebSession.id == bindparam("id"), WebSession.expires_at > bindparam("now")))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ServerSession(SessionMixin):
    """A dict-like session whose data is read from web_sessions on first use.

    `token` is the cookie's token while it names a live row, else None (a new token is made
    when there is something to store). `retired` is a token whose row is to be deleted."""

    def __init__(self, token: str | None):
        self.token = token
        self.retired: str | None = None
        self.modified = False
        self.updated_at: datetime | None = None  # of the row, when one was read
        self._data: dict[str, Any] | None = None

    # --- the mapping -----------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._data is not None

    def _read(self) -> dict[str, Any]:
        if self._data is None:
            self._data = {}
            if self.token is not None:
                found = db.session.execute(_LOAD, {"id": token_hash(self.token), "now": utcnow()}).first()
                data = _decode(found.data) if found else None
                if data is None:  # unknown, expired or unreadable: refused, never reused
                    self.token = None
                else:
                    self._data, self.updated_at = data, found.updated_at
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._read()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._read()[key] = value
        self.modified = True

    def __delitem__(self, key: str) -> None:
        del self._read()[key]
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())

    def __repr__(self) -> str:  # keys only: values may be a name searched for or a secret
        return f"<ServerSession keys={sorted(self._read())}>"

    # --- changing token --------------------------------------------------------------------

    def clear(self) -> None:
        """Forget everything, and the token with it (no read needed)."""
        self._retire()
        self._data = {}
        self.modified = True

    def renew(self) -> None:
        """Keep the data under a new token: the old cookie stops working (session fixation)."""
        self._read()
        self._retire()
        self.modified = True

    def _retire(self) -> None:
        if self.token is not None:
            self.retired, self.token = self.token, None


def _decode(text: str) -> dict | None:
    try:
        data = _SERIALIZER.loads(text)
    except (ValueError, TypeError):  # not JSON, or a tagged value that is not what its tag says
        return None
    return data if isinstance(data, dict) else None


class ServerSessionInterface(SessionInterface):
    """Over HTTPS the cookie is named __Host-…: the browser then insists on Secure, Path=/ and no
    Domain, so no sibling subdomain can plant or overwrite it. Over plain http (local demo only)
    the prefix would make browsers drop the cookie, so it follows SESSION_COOKIE_SECURE.

    `browser_lifetime(app)`: how long after its last change a session that is not permanent
    (one that ends when the browser closes) is kept on the server. A permanent one is kept
    PERMANENT_SESSION_LIFETIME after its last use, as its cookie is."""

    def __init__(self, browser_lifetime: Callable[[Flask], timedelta]):
        self.browser_lifetime = browser_lifetime

    def get_cookie_name(self, app: Flask) -> str:
        name = app.config["SESSION_COOKIE_NAME"].removeprefix("__Host-")
        return "__Host-" + name if app.config["SESSION_COOKIE_SECURE"] else name

    def get_cookie_domain(self, app: Flask):
        return None if app.config["SESSION_COOKIE_SECURE"] else super().get_cookie_domain(app)

    def get_cookie_path(self, app: Flask) -> str:
        return "/" if app.config["SESSION_COOKIE_SECURE"] else super().get_cookie_path(app)

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        token = request.cookies.get(self.get_cookie_name(app), "")
        return ServerSession(token if TOKEN_SHAPE.fullmatch(token) else None)

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:
        if session.accessed:
            response.vary.add("Cookie")
        if not session.loaded:
            return  # never read in this request, so nothing changed
        now = utcnow()
        touch = session.token is not None and session.permanent and now - session.updated_at >= TOUCH_EVERY
        if session.retired is None and not session.modified and not touch:
            return
        # Only the session is written here. Whatever the view left uncommitted (views commit
        # once, if at all) was not meant to be stored, and this commit must not store it.
        db.session.rollback()
        inserted = False
        if session.retired is not None:
            db.session.execute(delete(WebSession).where(WebSession.id == token_hash(session.retired)))
            session.retired = None
        if not session:
            if session.token is not None:  # emptied by pops, not clear()
                db.session.execute(delete(WebSession).where(WebSession.id == token_hash(session.token)))
                session.token = None
            if session.modified:
                self._delete_cookie(app, response)
        elif session.token is None:
            session.token = secrets.token_urlsafe(32)
            db.session.execute(insert(WebSession).values(
                id=token_hash(session.token), data=_SERIALIZER.dumps(dict(session)),
                expires_at=now + self._lifetime(app, session), updated_at=now))
            inserted = True
            self._set_cookie(app, session, response)
        else:
            values = {"expires_at": now + self._lifetime(app, session), "updated_at": now}
            if session.modified:
                values["data"] = _SERIALIZER.dumps(dict(session))
            # No row (signed out meanwhile in another tab): it stays gone, this write is dropped.
            if db.session.execute(update(WebSession).where(WebSession.id == token_hash(session.token))
                                  .values(**values)).rowcount:
                self._set_cookie(app, session, response)  # a permanent cookie's Expires moves too
        # Its own transaction, after the view's (and the audit's, monitor/audit.py).
        db.session.commit()
        if inserted and secrets.randbelow(PRUNE_ONE_IN) == 0:
            prune(now)

    def _lifetime(self, app: Flask, session: ServerSession) -> timedelta:
        return app.permanent_session_lifetime if session.permanent else self.browser_lifetime(app)

    def _set_cookie(self, app: Flask, session: ServerSession, response: Response) -> None:
        response.set_cookie(
            self.get_cookie_name(app), session.token, expires=self.get_expiration_time(app, session),
            httponly=self.get_cookie_httponly(app), domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app), secure=self.get_cookie_secure(app),
            partitioned=self.get_cookie_partitioned(app), samesite=self.get_cookie_samesite(app))
        response.vary.add("Cookie")

    def _delete_cookie(self, app: Flask, response: Response) -> None:
        response.delete_cookie(
            self.get_cookie_name(app), domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app), partitioned=self.get_cookie_partitioned(app),
            samesite=self.get_cookie_samesite(app), httponly=self.get_cookie_httponly(app))
        response.vary.add("Cookie")


def prune(now: datetime | None = None) -> int:
    """Delete the expired rows; how many. Housekeeping: a failure is logged and left to the
    next sweep, never the visitor's error."""
    try:
        gone = db.session.execute(delete(WebSession).where(WebSession.expires_at <= (now or utcnow()))).rowcount
        # Its own transaction, after the visitor's session is saved: a failure loses nothing.
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.warning("web sessions: pruning failed (%s); the next sweep will retry", type(error).__name__)
        return 0
    return gone
