"""Console output shared by the CLI commands, and the translation of user errors to one line each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from rich.progress import Progress

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

# Base error classes of the packages; anything below them is a user-facing error.
_USER_ERROR_MODULES = (
    "store.errors",
    "edge.errors",
    "vision.errors",
    "remote_sensing.errors",
    "credit.errors",
    "api.errors",
    "usecases.errors",
    "farmtrust.services",
    "farmtrust.errors",
)


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a mistake the user can fix (bad input, settings, unreachable service)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return True
    return any(cls.__module__ in _USER_ERROR_MODULES for cls in type(exc).__mro__)


def print_user_error(exc: BaseException) -> None:
    """Print ``exc`` as one line per problem on stderr."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or exc.title
            err_console.print(f"[red]error:[/] {where}: {err['msg']} (got {err.get('input')!r})", highlight=False)
        return
    err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)


def progress_bar() -> Progress:
    """A progress display on stderr for long work: one task per step, with a bar, a count and the time."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )
