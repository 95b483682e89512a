"""One-click unsubscribe from nudge emails (SPEC 5; RFC 8058).

The link carries the patient's id signed for this one purpose (its own salt), so a token
made for anything else, or altered, is refused like an address that does not exist. It does
not sign anyone in. A GET only shows a confirmation button, because mail scanners follow
links; the POST, which mail clients send on their own for `List-Unsubscribe-Post`, turns the
emails off. That POST carries no CSRF token: the signature is what protects it."""
from flask import Blueprint, abort, current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer

from .audit import record
from .extensions import csrf, db
from .models import User

SALT = "nudge-unsubscribe"

bp = Blueprint("unsubscribe", __name__)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(user_id: int) -> str:
    return _serializer().dumps(user_id)


def unsubscribe_url(user_id: int) -> str:
    from .accounts import absolute_url
    return absolute_url("unsubscribe.confirm", token=make_token(user_id))


def _user_or_404(token: str) -> User:
    if len(token) > 200:
        abort(404)
    try:
        user_id = _serializer().loads(token)
    except BadSignature:
        abort(404)
    user = db.session.get(User, user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else None
    if user is None or not user.is_patient:
        abort(404)
    return user


@bp.get("/unsubscribe/<token>")
def confirm(token: str):
    user = _user_or_404(token)
    return render_template("unsubscribe/confirm.html", token=token, already=user.email_opt_out)


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str):
    user = _user_or_404(token)
    if not user.email_opt_out:
        user.email_opt_out = True
        record("nudges.unsubscribed", target_type="patient", target_id=user.id, actor=user,
               detail="reminder emails turned off from the email's link")
        db.session.commit()
    return render_template("unsubscribe/done.html")
