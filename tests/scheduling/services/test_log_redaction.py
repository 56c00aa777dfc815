import io
import logging

from scheduling.logging import RedactSecretsFilter


def test_it_masks_credentials_before_a_handler_writes_them():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logger.info("calling with Authorization: Bearer abc.def-123")
        logger.info("token refresh failed: %s", "grant_type=refresh_token&refresh_token=1//0gRefreshTok&x=1")
        logger.warning('provider answered {"client_id": "cid", "client_secret": "shh-very-secret"}')
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    for secret in ("abc.def-123", "1//0gRefreshTok", "shh-very-secret"):
        assert secret not in out
    assert out.count("[redacted]") >= 3
    assert "calling with Authorization: Bearer [redacted]" in out
    assert '"client_id": "cid"' in out  # only secrets go
