"""The request log on a laptop: LiteLLM's ``s3_v2`` callback writes to a local S3 server (moto).

In a cluster the callback writes to the stack's bucket and Snowpipe loads it
(``components/analytics.py``); here ``make run`` and the tests start moto on loopback
(``local.processes.start_s3``), create the bucket, and read back the objects the real callback wrote
with the real AWS SDK. The credentials are moto's: it accepts any, and they reach nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from gateway_config.runtime_env import (
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    REQUEST_LOG_BUCKET,
    REQUEST_LOG_ENDPOINT,
    REQUEST_LOG_PREFIX,
    REQUEST_LOG_REGION,
)

LOCAL_BUCKET = "llm-gateway-request-log"
LOCAL_PREFIX = "litellm/local"
LOCAL_REGION = "us-east-1"
# moto's documented placeholder credentials (it accepts any signature).
MOTO_CREDENTIAL = "testing"


@dataclass(frozen=True)
class LocalRequestLog:
    """Where the gateway's request log goes in this run: a bucket on the local S3 server."""

    endpoint: str
    bucket: str = LOCAL_BUCKET
    prefix: str = LOCAL_PREFIX
    region: str = LOCAL_REGION

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}/"

    def env(self) -> dict[str, str]:
        """The variables the generated config references (runtime_env.py), plus the SDK's credentials."""
        return {
            REQUEST_LOG_BUCKET: self.bucket,
            REQUEST_LOG_PREFIX: self.prefix,
            REQUEST_LOG_REGION: self.region,
            REQUEST_LOG_ENDPOINT: self.endpoint,
            AWS_ACCESS_KEY_ID: MOTO_CREDENTIAL,
            AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIAL,
        }

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=MOTO_CREDENTIAL,
            aws_secret_access_key=MOTO_CREDENTIAL,
            config=Config(retries={"max_attempts": 2}, connect_timeout=2, read_timeout=5),
        )

    def create_bucket(self) -> None:
        self.client().create_bucket(Bucket=self.bucket)

    def object_keys(self) -> list[str]:
        client = self.client()
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + "/"):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return sorted(keys)

    def read_object(self, key: str) -> bytes:
        body: bytes = self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def payloads(self) -> list[dict[str, Any]]:
        """Every payload written so far: one JSON object per line of each object (NDJSON batches)."""
        rows: list[dict[str, Any]] = []
        for key in self.object_keys():
            rows += [json.loads(line) for line in self.read_object(key).decode().splitlines() if line.strip()]
        return rows
