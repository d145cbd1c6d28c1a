"""The one shape of a user-input error on the user side: which field, and why."""
from __future__ import annotations


class FieldProblem(ValueError):
    """A value the user gave that cannot be used, naming its field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
