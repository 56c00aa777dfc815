"""The schema and the documentation page are served from the code and local static files (no CDN)."""

from __future__ import annotations


def test_it_serves_the_schema_and_a_local_docs_page(client, db):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and b"/api/v1/solve" in schema.content
    page = client.get("/api/v1/docs/").content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in page and "cdn." not in page
