"""User-facing errors: one clear line each, raised for bad input anywhere in the engine."""


class GPSTokenError(ValueError):
    """Bad input (file, parameter or image) that the user can fix; its message is one line."""


class ImageError(GPSTokenError):
    """An image that cannot be read or converted."""


class TokenFileError(GPSTokenError):
    """A token file (.npz) that is missing arrays or holds invalid values."""


class CheckpointError(GPSTokenError):
    """A checkpoint or config that cannot be read or does not fit the model."""


class Cancelled(Exception):
    """Long work stopped because the caller asked it to."""
