"""The integrator API, `/api/v1/` (issue #10): keys and scopes (auth), a per-key rate limit (throttling), the one
error shape (errors), NetBox-style read viewsets and HackSoft-style one-view-per-write (views), the solver's HTTP
door (`POST /api/v1/solve`). The OpenAPI schema is generated from the code at `/api/v1/schema/`."""
