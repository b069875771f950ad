"""One error family: every error carries a user message, where it happened and an exit code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


@dataclass(frozen=True)
class Location:
    """Where a problem is: a file, optionally a line and column, and the field path inside the document."""

    file: Path | str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file is not None:
            place = str(self.file)
            if self.line is not None:
                place += f":{self.line}"
                if self.column is not None:
                    place += f":{self.column}"
            parts.append(place)
        if self.field:
            parts.append(self.field)
        return ": ".join(parts)


@dataclass(frozen=True)
class Problem:
    """One finding of a validation: a message at a location; warnings do not fail a validation."""

    message: str
    location: Location = Location()
    warning: bool = False

    def __str__(self) -> str:
        where = str(self.location)
        return f"{where}: {self.message}" if where else self.message


class RegionkitError(Exception):
    """Base of every error regionkit reports to its user."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location or Location()
        self.hint = hint

    def __str__(self) -> str:
        return str(Problem(self.message, self.location))


class InputError(RegionkitError):
    """The user gave something wrong: a file, an argument, an id. Exit code 2."""

    exit_code = EXIT_BAD_INPUT


class ValidationFailed(InputError):
    """A document broke one or more rules; all problems are reported at once."""

    def __init__(self, problems: list[Problem], what: str):
        self.problems = problems
        count = len(problems)
        super().__init__(f"{what}: {count} problem{'s' if count != 1 else ''}")


class OperationFailed(RegionkitError):
    """Input was fine but the operation did not succeed. Exit code 1."""
