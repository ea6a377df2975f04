"""What an object store's refusal means, said in one line a user can act on.

deltalake, pyarrow and DuckDB each report a store's failure in their own words: deltalake in
several lines with ANSI colours and the server's XML, pyarrow as `AWS Error ACCESS_DENIED ...`,
DuckDB as `HTTP 403`. Each port store and engine passes the raw text here and gets back which of
three faults it is, if any — the server unreachable, the identity's keys wrong or unknown, or the
identity refused the port — and the one line to show: the endpoint (and the setting that names
it), the identity, the port. The raw text never reaches the user: it may quote a request URL, the
server's XML or a key id. Pure: no I/O, no store library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

UNREACHABLE, CREDENTIALS, DENIED = "unreachable", "credentials", "denied"
ENDPOINT_OPTION = "AWS_ENDPOINT_URL"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Checked in this order: a bad signature is also a 403, and a refused connection says nothing else.
_SIGNS = (
    (CREDENTIALS, ("SignatureDoesNotMatch", "InvalidAccessKeyId", "SIGNATURE_DOES_NOT_MATCH", "INVALID_ACCESS_KEY_ID",
                   "InvalidToken", "ExpiredToken", "lacked the necessary credentials")),
    (DENIED, ("AccessDenied", "ACCESS_DENIED", "403 Forbidden", "HTTP 403", "lacked the necessary privileges")),
    (UNREACHABLE, ("Connection refused", "tcp connect error", "NETWORK_CONNECTION", "Could not connect",
                   "Could not resolve host", "error sending request", "Could not establish connection", "timed out")),
)


def one_line(text: str) -> str:
    """A library's message as one plain line: colour codes out, whitespace collapsed."""
    return " ".join(_ANSI.sub("", text).split())


def classify(text: str) -> str | None:
    """Which store fault `text` reports (UNREACHABLE, CREDENTIALS, DENIED), or None."""
    for kind, signs in _SIGNS:
        if any(sign in text for sign in signs):
            return kind
    return None


def endpoint_of(options: Mapping[str, str]) -> str:
    """The store's endpoint as the settings name it (AWS S3's own when none is set)."""
    return options.get(ENDPOINT_OPTION) or options.get("endpoint_url") or "the AWS S3 default endpoint"


def fault_line(exc: BaseException, identity: str, options: Mapping[str, str], uri: str) -> str | None:
    """The one line for a store fault behind `exc`: itself, or what it wraps (a PublishError
    raised over a library's error), or None."""
    for candidate in (exc, exc.__cause__, exc.__context__):
        if candidate is not None:
            line = describe(one_line(str(candidate)), identity=identity, options=options, uri=uri)
            if line is not None:
                return line
    return None


def describe(text: str, *, identity: str, options: Mapping[str, str], uri: str) -> str | None:
    """The one line for a store fault reported as `text`, acting as `identity` on `uri` (a port,
    or the folder listed), or None when `text` reports no store fault."""
    kind = classify(text)
    endpoint = endpoint_of(options)
    if kind == UNREACHABLE:
        return (f"the object store at {endpoint} is unreachable (MESH_STORAGE_OPTIONS {ENDPOINT_OPTION}): "
                f"is it running, and is the endpoint right? (reaching {uri})")
    if kind == CREDENTIALS:
        return (f"the object store at {endpoint} does not accept the keys of storage identity {identity!r} "
                f"(wrong or unknown access key or secret): check that identity's keys file or settings (reaching {uri})")
    if kind == DENIED:
        return f"storage identity {identity!r} is refused by the object store at {endpoint}: access denied to {uri}"
    return None
