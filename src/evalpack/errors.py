"""Errors that end a command with one clear sentence instead of a traceback.

Exit codes (the README's table is this list):
  0  every sample was answered and scored (or --ignore-errors was given)
  1  some samples ended in an error (they are recorded; run the same command again to retry them)
  2  bad usage: flags, YAML, dataset args, names, missing or corrupt data (nothing was sent)
  3  the model server cannot be used: unreachable, refuses the key, redirects, does not serve --model
  4  the run directory cannot be used: another evalpack is writing it, or run.db cannot be written
  130  interrupted (Ctrl-C or SIGTERM); what was answered is kept
"""


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


class StoreError(EvalpackError):
    """run.db cannot be written or read, or another process owns the run directory: exit 4."""

    exit_code = 4


class SamplesFailed(EvalpackError):
    """The run finished, but some samples ended in an error (and --ignore-errors was not given)."""

    exit_code = 1


class ModelCallError(Exception):
    """One model call failed after all retries; the sample is recorded as an error.
    `kind` names the last failure for counting: http_<status>, timeout, connection, bad_reply."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


class FatalCallError(ModelCallError):
    """A call failure every other call would repeat (key refused, URL redirects): the run stops."""


class AuthError(FatalCallError):
    """The server refused the API key."""
