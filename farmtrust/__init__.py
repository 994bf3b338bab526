"""FarmTrust composition root: settings, the ``farmtrust`` command line and the local stack."""

from importlib.metadata import PackageNotFoundError, version

from farmtrust.settings import Settings

try:
    __version__ = version("farmtrust")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

__all__ = ["Settings", "__version__"]
