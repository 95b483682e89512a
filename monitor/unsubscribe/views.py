"""One-click unsubscribe from nudge emails (SPEC 5; RFC 8058).

The link carries the patient's id encrypted for this one purpose (tokens.unsubscribe_token):
unreadable and unforgeable without SECRET_KEY, so a token made for anything else, or altered,
is refused like an address that does not exist. It does not sign anyone in. A GET only shows a
confirmation button, because mail scanners follow links; the POST, which mail clients send on
their own for `List-Unsubscribe-Post`, turns the emails off. That POST carries no CSRF token:
the token's authentication (Fernet's HMAC) is what protects it."""
from flask import abort, render_template

from .. import tokens
from ..audit import record
from ..extensions import csrf, db
from ..models import User
from . import bp


def _user_or_404(token: str) -> User:
    user_id = tokens.unsubscribe_user_id(token)
    user = db.session.get(User, user_id) if user_id is not None else None
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
