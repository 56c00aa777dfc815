"""drf-spectacular extensions: how the schema describes our two ways in (imported by scheduling.api.urls)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

__all__ = ["ApiKeyScheme", "StaffSessionScheme"]


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "scheduling.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "lw_<prefix>_<secret>",
                "description": "An API key: `Authorization: Bearer <key>`. Scopes: read, write."}


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = "scheduling.api.auth.StaffSessionAuthentication"
    name = "staffSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "A signed-in staff user's admin session (writes need the CSRF token)."}
