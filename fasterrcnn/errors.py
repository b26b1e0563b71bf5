"""Errors of user input that every layer may raise, defined at the bottom
of the stack so that a data reader can raise what the config layer does."""


class ConfigError(ValueError):
    """An invalid configuration: the message names the source, line and key.
    """
