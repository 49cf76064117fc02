"""The one secret scrubber: every known secret is replaced by *** in text before it is
stored, logged or printed.

Any component that holds a secret adds it here (`add_secret`): the client for the
evaluated model, the user-model and judge clients, URL credentials. A server that
echoes the Authorization header into an error page, or a model told its key, then
cannot carry it into run.db, samples/*.jsonl, report.*, the log or stderr.
"""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
MIN_LENGTH = 5  # shorter "keys" (e.g. "x") would blank ordinary text; nobody's real key is that short
_secrets: set[str] = set()


def add_secret(value: str | None) -> None:
    """Register a secret, with the spellings a server may echo it in (URL-quoted, Basic auth)."""
    if not value or not isinstance(value, str) or len(value) < MIN_LENGTH:
        return
    first = not _secrets
    for form in (value, quote(value, safe=""), unquote(value)):
        if len(form) >= MIN_LENGTH:
            _secrets.add(form)
    if first:
        _install_log_scrubber()


def add_url_secrets(url: str) -> None:
    """The password (and user:password, and its Basic-auth encoding) of `http://user:pw@host`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    if parts.password:
        pair = f"{parts.username or ''}:{parts.password}"
        add_secret(parts.password)
        add_secret(pair)
        add_secret(base64.b64encode(unquote(pair).encode()).decode())


def redact_url(url: str) -> str:
    """`http://user:pw@host/v1` -> `http://***@host/v1`; other URLs unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{MASK}@{host}").geturl()


def scrub(text: Any) -> Any:
    """`text` with every known secret masked (longest first, so no piece of one survives)."""
    if not _secrets or not isinstance(text, str):
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub_value(value: Any) -> Any:
    """scrub() through dicts and lists (for structures printed or exported as they are)."""
    if not _secrets:
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_value(v) for v in value]
    return value


def _install_log_scrubber() -> None:
    """Every log record of every logger (ours, aiohttp's) is scrubbed before any handler sees it."""
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        if _secrets:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a malformed record is logging's business
                return record
            record.msg, record.args = scrub(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
