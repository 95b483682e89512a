"""Form pieces shared by the blueprints' forms."""
from wtforms import EmailField, HiddenField, StringField
from wtforms.validators import DataRequired, Email, Length, StopValidation, ValidationError

from . import accounts, digits, submissions


class ParsedField(StringField):
    """A text input for a number, a date or a time, read by a parser that raises ValueError
    with the message to show. Only the digits 0-9 reach the parser (monitor/digits.py).

    `value` holds the parsed result (None when empty or invalid); `data` keeps what was typed,
    so a refused form shows the person their own input."""

    def __init__(self, label, parser, required_message=None, what=None, **kwargs):
        super().__init__(label, **kwargs)
        self.parser = parser
        self.required_message = required_message
        self.what = what  # names the field in a message; default: its label
        self.value = None

    def pre_validate(self, form):
        self.value = None
        text = (self.data or "").strip()
        if not text:
            if self.required_message:
                raise StopValidation(self.required_message)
            return
        if message := digits.problem(text, self.what or self.label.text):
            raise StopValidation(message)
        try:
            self.value = self.parser(text)
        except ValueError as e:
            raise StopValidation(str(e)) from None


def strip(value):
    return value.strip() if isinstance(value, str) else value


class SubmissionKeyField(HiddenField):
    """The hidden submission key of a form that creates a record (see monitor/submissions.py)."""

    def issue(self) -> None:
        self.data = submissions.new_key()

    def keep_for_redisplay(self) -> None:
        self.data = submissions.for_redisplay(self.data)

    @property
    def key(self) -> str | None:
        return submissions.accepted(self.data)


class NotRegistered:
    """An email address no account has yet (case aside). The services check again when they
    insert, for the request that registers the same address a moment later."""

    def __call__(self, form, field):
        if field.data and not field.errors and accounts.find_by_email(field.data) is not None:
            raise ValidationError(accounts.DUPLICATE_EMAIL)


def new_account_email(whose: str) -> EmailField:
    """The email field of a form that creates an account."""
    return EmailField("Email", filters=[strip], validators=[
        DataRequired(message=f"Enter {whose} email address."),
        Length(max=254, message="The email address must be at most 254 characters."),
        Email(message="Enter an email address like name@example.com.", check_deliverability=False),
        NotRegistered(),
    ])


def name_field(label: str, whose: str) -> StringField:
    """A first or last name of a new account."""
    return StringField(label, filters=[strip], validators=[
        DataRequired(message=f"Enter {whose} {label.lower()}."),
        Length(max=80, message=f"The {label.lower()} must be at most 80 characters."),
    ])
