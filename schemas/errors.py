"""One root exception type; small named subclasses whose message carries context."""


class ChurnError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(ChurnError):
    """Settings or a config file are invalid; the message names the setting."""


class ServiceError(ChurnError):
    """An embedded or configured service (broker, Redis) could not be started or reached."""


class DecodeError(ChurnError):
    """A message could not be turned into an event.

    ``code`` is machine-readable (see ``schemas.codec.REASONS``); the message is a
    sentence a person understands.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
