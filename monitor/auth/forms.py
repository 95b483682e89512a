from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from ..passwords import MAX_LENGTH, password_problem


def strong_password(form, field):
    """SPEC 6 / ASVS V6: length and the common-password list, nothing else (passwords.py)."""
    problem = password_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


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
    current_password = PasswordField("Current password", validators=[
        DataRequired(message="Enter your current password."), Length(max=1024)])
    password = PasswordField("New password", validators=[DataRequired(message="Choose a password."),
                                                         Length(max=MAX_LENGTH), strong_password])
    confirm = PasswordField("Repeat the new password", validators=[
        DataRequired(message="Repeat the new password."),
        EqualTo("password", message="The two new passwords do not match."),
    ])
