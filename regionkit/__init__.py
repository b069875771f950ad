"""regionkit: roll out Kota Tangerang's shared e-government apps to other regions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("regionkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
