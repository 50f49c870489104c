"""The S3 fixtures (a real moto server) for the artifact-store tests."""

from tests._s3 import aws_env, s3_endpoint, s3_prefix

__all__ = ["aws_env", "s3_endpoint", "s3_prefix"]
