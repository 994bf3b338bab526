"""The ``farmtrust`` command: thin typer groups, heavy imports inside command bodies.

Each group lives in ``farmtrust/commands/<group>.py``; this module assembles them, installs logging
and turns user mistakes (bad settings, unreachable services, invalid input) into one clear line and a
non-zero exit code instead of a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from farmtrust.commands import register
from farmtrust.console import err_console, is_user_error, print_user_error

app = typer.Typer(
    name="farmtrust",
    help="FarmTrust: verified farm production records turned into fair, explained credit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
register(app)

_PACKAGES = ("farmtrust", "store", "edge", "vision", "remote_sensing", "credit", "usecases", "api")


def _setup_logging(verbose: int) -> None:
    from rich.logging import RichHandler

    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
    handler = RichHandler(console=err_console, show_path=False, rich_tracebacks=False)
    for name in _PACKAGES:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


@app.callback()
def _root(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v for INFO, -vv for DEBUG")] = 0,
) -> None:
    _setup_logging(verbose)


@app.command()
def version() -> None:
    """Print the FarmTrust version."""
    from farmtrust import __version__

    typer.echo(__version__)


def main() -> None:
    """Entry point of the ``farmtrust`` console script."""
    try:
        app()
    except Exception as exc:
        if is_user_error(exc):
            print_user_error(exc)
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
