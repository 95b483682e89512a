from flask import request
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from .. import tokens
from ..clinic import clinic_name
from ..passwords import MAX_LENGTH, known_words, password_problem


def strong_password(form, field):
    """SPEC 6 / ASVS V6: a length and how hard it is to guess, knowing the account's names and
    email and the clinic's name (passwords.py); no composition rules."""
    user = form.owner()
    known = known_words(user.first_name, user.last_name, user.email, clinic_name()) if user else ()
    problem = password_problem(field.data or "", known)
    if problem:
        raise ValidationError(problem)


def _link_owner():
    """The account an invitation or reset link in this URL is for (its view checked the link)."""
    raw = (request.view_args or {}).get("token")
    for purpose in (tokens.INVITATION, tokens.PASSWORD_RESET):
        token = tokens.find_valid(raw, purpose) if raw else None
        if token is not None:
            return token.user
    return None


# The same words whatever went wrong: they must not tell which part was right.
GENERIC_LOGIN_ERROR = "Email or password is incorrect."
GENERIC_CODE_ERROR = "That code did not work. Check that your phone's clock is right and try a new code."


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter your email."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password."), Length(max=1024)])
    # Shown to everyone, honoured only for patients (see sessions.begin): staff never stay signed in.
    remember = BooleanField("Keep me signed in on this device")
    submit = SubmitField("Sign in")


class CodeForm(FlaskForm):
    """A 6-digit code from the authenticator app, or (where allowed) a recovery code."""
    code = StringField("Code", validators=[DataRequired(message="Enter the code."), Length(max=32)])


class PasswordAndCodeForm(FlaskForm):
    """Changing how one signs in (turning the second factor on, new recovery codes, turning it
    off) asks for the password in the same form: a session left open or stolen is not enough."""
    current_password = PasswordField("Your password", validators=[
        DataRequired(message="Enter your password."), Length(max=1024)])
    code = StringField("Code", validators=[DataRequired(message="Enter the code."), Length(max=32)])


class RequestResetForm(FlaskForm):
    email = EmailField("Email", validators=[
        DataRequired(message="Enter your email."),
        Email(message="Enter an email address like name@example.com.", check_deliverability=False),
        Length(max=254),
    ])
    submit = SubmitField("Email me a link")


class SetPasswordForm(FlaskForm):
    """A first password (invitation) or a new one (reset), from an emailed link."""

    def owner(self):
        return _link_owner()

    password = PasswordField("New password", validators=[DataRequired(message="Choose a password."),
                                                         Length(max=MAX_LENGTH), strong_password])
    confirm = PasswordField("Repeat the password", validators=[
        DataRequired(message="Repeat the password."),
        EqualTo("password", message="The two passwords do not match."),
    ])
    submit = SubmitField("Save password")


class ConfirmPasswordForm(FlaskForm):
    """Asked again before something that would let a stolen session lock the owner out or hide
    itself (ending the owner's other sessions, changing the password)."""
    current_password = PasswordField("Your password", validators=[
        DataRequired(message="Enter your password."), Length(max=1024)])


class ChangePasswordForm(FlaskForm):
    def owner(self):
        return current_user if current_user.is_authenticated else None

    current_password = PasswordField("Current password", validators=[
        DataRequired(message="Enter your current password."), Length(max=1024)])
    password = PasswordField("New password", validators=[DataRequired(message="Choose a password."),
                                                         Length(max=MAX_LENGTH), strong_password])
    confirm = PasswordField("Repeat the new password", validators=[
        DataRequired(message="Repeat the new password."),
        EqualTo("password", message="The two new passwords do not match."),
    ])
