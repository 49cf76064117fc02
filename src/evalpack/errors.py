"""Errors that end a command with one clear sentence instead of a traceback."""


class EvalpackError(Exception):
    """A problem the user can fix; printed as `evalpack: <message>` with `exit_code`."""

    exit_code = 1


class UsageError(EvalpackError):
    """Bad flags, config, dataset args or names: exit 2."""

    exit_code = 2


class DataMissingError(EvalpackError):
    """Dataset files absent or corrupt: exit 2, before any request is sent."""

    exit_code = 2


class ServerError(EvalpackError):
    """The model server is unreachable or does not serve the model."""

    exit_code = 3


class ModelCallError(Exception):
    """One model call failed after all retries; the sample is recorded as an error.
    `kind` names the last failure for counting: http_<status>, timeout, connection, bad_reply."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


class AuthError(ModelCallError):
    """The server refused the API key: every further request would be refused too, so the run stops."""
