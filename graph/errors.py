"""One root exception for the whole package; the CLI turns these into one-line messages."""

from __future__ import annotations

__all__ = ["C360Error", "GraphError", "ConfigError", "InputError", "NotFoundError", "BusyError"]


class C360Error(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(C360Error):
    """A setting (URL, environment variable, option) cannot be used."""


class GraphError(C360Error):
    """The graph engine refused or failed a statement, or could not be reached."""


class InputError(C360Error):
    """An input file or value breaks the data contract."""


class NotFoundError(C360Error):
    """A customer, person, product or offer the caller named does not exist."""


class BusyError(C360Error):
    """Another job holds what this one needs (a build of the same stored result is running)."""
