"""AWS credential and region checks shared by the Bedrock providers (standard boto3 credential chain)."""

from __future__ import annotations

import os
import re
from typing import Any

from pada.errors import PadaError
from pada.teacher.providers.base import FatalTeacherError, RequestRejected, TransientError


def region(cfg: Any) -> str | None:
    return cfg.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def check_aws(cfg: Any) -> None:
    import boto3

    session = boto3.Session()
    if session.get_credentials() is None:
        raise PadaError(
            f"teacher '{cfg.provider}' needs AWS credentials (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance role); or choose another teacher=..."
        )
    if not (region(cfg) or session.region_name):
        raise PadaError(
            f"teacher '{cfg.provider}' needs an AWS region; export AWS_REGION or set teacher.region"
        )


# Bedrock runtime error codes, from the Converse / InvokeModel API reference ("Errors"), with the HTTP status
# each is documented with; the status stands in for the code when a response lacks x-amzn-ErrorType.
# Temporary per the reference ("try your request again" / "resubmit later"): retried with backoff.
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",  # 429
        "ModelNotReadyException",  # 429: the model is loading
        "ModelTimeoutException",  # 408
        "ModelErrorException",  # 424: "Try your request again" (anthropic-sdk-python#432)
        "ModelStreamErrorException",  # 424
        "InternalServerException",  # 500
        "ServiceUnavailableException",  # 503
        "ServiceQuotaExceededException",  # 400: "You can resubmit your request later"
    }
)
CODE_BY_STATUS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
_CREDENTIAL_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "ExpiredTokenException",
        "InvalidSignatureException",
    }
)
# A ValidationException about this request's own content (its length, an empty turn) rejects that request
# only; any other (model id, inference profile, a sampling field the model refuses) would fail every
# request, so it is fatal.
_CONTENT_FAULT = re.compile(
    r"too long|too many (input )?tokens|context (length|window)|exceeds? .{0,40}(tokens|length|limit)"
    r"|must be non-empty|must not be empty",
    re.IGNORECASE,
)


def bedrock_error(code: str, message: str) -> Exception:
    """The exception for a Bedrock runtime error ``code`` (e.g. ``ModelErrorException``): TransientError,
    RequestRejected (a ValidationException about the request's content) or FatalTeacherError."""
    if code in TRANSIENT_CODES:
        return TransientError(message)
    if code == "ValidationException" and _CONTENT_FAULT.search(message):
        return RequestRejected(message)
    if code in _CREDENTIAL_CODES:
        return FatalTeacherError(
            f"{message}; check your AWS credentials and Bedrock model access (or choose another teacher=...)"
        )
    return FatalTeacherError(f"{message}; check teacher.model and the teacher's settings")
