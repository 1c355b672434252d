"""Exit statuses by meaning, for schedulers (README, "Exit status"), and the errors that carry them."""

from __future__ import annotations

__all__ = ["OK", "FAILED", "USAGE", "UNAVAILABLE", "NO_PERMISSION", "INTERRUPTED",
           "ServiceUnavailable", "CredentialsRefused"]

OK = 0
FAILED = 1  # the run started and failed, or some input could not be sent
USAGE = 2  # bad command line or configuration: retrying the same command cannot help
UNAVAILABLE = 69  # EX_UNAVAILABLE: a service (the Kafka brokers) cannot be reached now; worth retrying later
NO_PERMISSION = 77  # EX_NOPERM: the brokers refused the credentials (or the TLS handshake failed)
INTERRUPTED = 130


class ServiceUnavailable(Exception):
    """The brokers cannot be reached: one line, exit status 69."""


class CredentialsRefused(Exception):
    """Authentication failed or TLS could not be set up: one line, exit status 77."""
