"""Exceptions that name what the user must fix (a file or a config key)."""


class PixelnoiseError(Exception):
    """Base class for errors caused by bad input rather than by a bug."""


class DatasetError(PixelnoiseError):
    """A dataset file is missing, unreadable or inconsistent; the message names the file."""


class ConfigError(PixelnoiseError):
    """A configuration value is invalid; the message names the key."""
