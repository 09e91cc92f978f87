"""What the S3 integration tests share besides their fixtures (tests/integration/conftest.py)."""

from __future__ import annotations

# SeaweedFS's S3 gateway without an identity file accepts any signed request.
ACCESS_KEY, SECRET_KEY = "artefact-test", "artefact-test-secret"


def s3_worker_env(client) -> dict[str, str]:
    """What a worker process needs to use the bucket as its default storage."""
    return {
        "S3_BUCKET": client.bucket,
        "S3_ENDPOINT_URL": client.endpoint_url,
        "S3_ACCESS_KEY_ID": ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "S3_REGION": "us-east-1",
    }


def bucket_keys(client) -> set[str]:
    listed = client.list_objects_v2(Bucket=client.bucket)
    return {item["Key"] for item in listed.get("Contents", [])}
