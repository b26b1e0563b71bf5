"""Errors of user input that every layer may raise, defined at the bottom
of the stack so that a data reader can raise what the config layer does,
and a file reader what the model's loaders do."""


class ConfigError(ValueError):
    """An invalid configuration: the message names the source, line and key.
    """


class BadFileError(ValueError):
    """A file handed to the project is refused; the message is one line
    that names the file (and the entry or key where there is one)."""
