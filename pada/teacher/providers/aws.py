"""AWS credential and region checks shared by the Bedrock providers (standard boto3 credential chain)."""

from __future__ import annotations

import os
from typing import Any

from pada.errors import PadaError


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
