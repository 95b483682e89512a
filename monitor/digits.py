"""Numbers, dates and times are written with the ASCII digits 0 to 9, and nothing else.

Python reads the digits of every script: int("٣") is 3, Decimal("３.5") is 3.5, and the regular
expression \\d matches both. Without this rule an Arabic-Indic, Devanagari or full-width digit
was stored as a check-in score or a dose that nobody typed as such and that the checks written
for 0-9 never saw. One rule for every form field, the CSV imports and the command line, which
refuse such a value with a message naming the field."""
import re

ASCII_DIGITS = frozenset("0123456789")


def foreign_digit(text: str) -> str | None:
    """The first character of text that is a digit or a number but not one of 0-9, else None."""
    for char in text or "":
        if char not in ASCII_DIGITS and (char.isdigit() or char.isnumeric()):
            return char
    return None


def problem(text: str, what: str) -> str | None:
    """A message when text holds a digit other than 0-9; `what` names the field ("The dose")."""
    char = foreign_digit(text)
    if char is None:
        return None
    return f"{what} must be written with the digits 0 to 9 (not “{char}”)."


def whole_number(text: str, what: str) -> int:
    """An integer written with 0-9 only (with an optional sign); ValueError says what is wrong."""
    if message := problem(text, what):
        raise ValueError(message)
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(f"{what} must be a whole number.")
    return int(text)
