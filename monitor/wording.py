"""Counts in words: "1 day", "2 days", "0 check-ins". One helper for every page, email and
chart sentence, so that no count reads "1 days" (issue 13).

English only, as the app is: a word and its plural (given when it is not the word + "s").
Registered for templates as the `plural` filter and global (monitor/__init__.py)."""
from __future__ import annotations


def plural(count: int | float, singular: str, plural_form: str | None = None, *, number: bool = True) -> str:
    """`count` with the word that fits it: plural(1, "day") is "1 day", plural(2, "day") "2 days",
    plural(0, "check-in") "0 check-ins"; plural(3, "patient has", "patients have") "3 patients
    have". With number=False only the word: for "{{ n }} <strong>…</strong>" layouts."""
    word = singular if count == 1 else (plural_form if plural_form is not None else singular + "s")
    return f"{count:g} {word}" if number else word  # :g: a setting of 4.0 points reads "4 points"
