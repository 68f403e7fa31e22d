"""Exceptions that ganlens raises for bad input; each message names what is wrong and what would be right."""


class GanlensError(Exception):
    """Base class: the CLI prints these as one line and exits non-zero."""


class UnknownModelError(GanlensError):
    """A model name that is neither bundled nor an existing checkpoint path."""


class CheckpointError(GanlensError):
    """A checkpoint that is missing, truncated, corrupt or of an unsupported kind."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint that asks to run code (a pickle global outside the allow-list)."""


class LatentError(GanlensError):
    """A latent code of the wrong shape, space or with non-finite values."""


class InputError(GanlensError, ValueError):
    """A value given to ganlens that is out of range, of the wrong kind or badly formed (also a ValueError, so
    callers that catch ValueError keep working)."""


class ShapeError(InputError):
    """An array, image batch or tensor of the wrong shape or dtype."""


class UnknownNameError(InputError, KeyError):
    """A name (attribute, method, mode, ...) that is not among the known ones; also a KeyError for look-ups."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
