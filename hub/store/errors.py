"""The store's errors: each has a stable machine-readable ``code`` and a human ``message``.

Services translate them once, at their boundary, into API or socket errors. Pairing errors keep
their precise code internally; the API may show one public message for all of them so a
guesser learns nothing about which codes exist.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises on purpose."""

    code = "store_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(StoreError):
    """The thing does not exist (or belongs to another company, which is the same to a caller)."""

    code = "not_found"


class AlreadyExists(StoreError):
    """A unique name or id is already taken."""

    code = "already_exists"


class TenantConflict(StoreError):
    """An id is already bound to another company (a branch, an agent)."""

    code = "tenant_conflict"


class IdempotencyConflict(StoreError):
    """An idempotency key was reused for a different request."""

    code = "idempotency_conflict"


class ConcurrentUpdate(StoreError):
    """A row kept changing under us; the caller may retry."""

    code = "concurrent_update"


PAIRING_CODE_INVALID = "pairing_code_invalid"
PAIRING_CODE_EXPIRED = "pairing_code_expired"
PAIRING_CODE_USED = "pairing_code_used"


class PairingError(StoreError):
    """A pairing code was refused; ``code`` says why (invalid, expired, used)."""

    code = PAIRING_CODE_INVALID


ENROLLMENT_CODE_INVALID = "enrollment_code_invalid"
ENROLLMENT_CODE_EXPIRED = "enrollment_code_expired"
ENROLLMENT_CODE_USED_UP = "enrollment_code_used_up"
ENROLLMENT_CODE_REVOKED = "enrollment_code_revoked"


class EnrollmentError(StoreError):
    """An enrolment code was refused; ``code`` says why (invalid, expired, used up, revoked)."""

    code = ENROLLMENT_CODE_INVALID
