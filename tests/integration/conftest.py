"""Fixtures of the integration tests that talk to a real S3 server (SeaweedFS)."""

from __future__ import annotations

import secrets
import time

import boto3
import pytest

from config.localservices import seaweedfs_start
from tests.integration.s3_support import ACCESS_KEY, SECRET_KEY


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    try:
        server = seaweedfs_start(data_dir=tmp_path_factory.mktemp("seaweedfs"))
    except FileNotFoundError as missing:
        pytest.fail(f"{missing} (scripts/bootstrap.sh installs it)")
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, settings, tmp_path):
    """A fresh bucket as the default storage of this process; returns the boto3 client."""
    bucket = f"artefact-{secrets.token_hex(4)}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    deadline = time.monotonic() + 30
    while True:  # the gateway answers a moment before its filer takes writes
        try:
            client.create_bucket(Bucket=bucket)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server.endpoint_url,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "region_name": "us-east-1",
                "addressing_style": "path",
                "default_acl": None,
            },
        },
    }
    settings.FILE_CACHE_DIR = tmp_path / "web-cache"
    client.bucket = bucket
    client.endpoint_url = s3_server.endpoint_url
    return client
