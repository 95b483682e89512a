"""Form pieces shared by the blueprints' forms."""
from wtforms import StringField
from wtforms.validators import StopValidation


class ParsedField(StringField):
    """A text input whose value is read by a parser that raises ValueError with the message to show.

    `value` holds the parsed result (None when empty or invalid); `data` keeps what was typed,
    so a refused form shows the person their own input."""

    def __init__(self, label, parser, required_message=None, **kwargs):
        super().__init__(label, **kwargs)
        self.parser = parser
        self.required_message = required_message
        self.value = None

    def pre_validate(self, form):
        self.value = None
        text = (self.data or "").strip()
        if not text:
            if self.required_message:
                raise StopValidation(self.required_message)
            return
        try:
            self.value = self.parser(text)
        except ValueError as e:
            raise StopValidation(str(e)) from None


def strip(value):
    return value.strip() if isinstance(value, str) else value
