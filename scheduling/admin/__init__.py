"""The admin: the recruiting team's daily tool (style.md section 5).

One module per theme, mirroring `scheduling/models/`; importing them registers every model.
Shared pieces (local times with their zone, health badges, read-only bases) are in `common`.
"""

from django.contrib import admin

from . import api, candidates, ops, org, people, plans, requests  # noqa: F401 - registers the admins

admin.site.site_header = "Loopwise"
admin.site.site_title = "Loopwise admin"
admin.site.index_title = "Home"
admin.site.site_url = None  # "/" only leads back here
# Lists are wide (health, last error, times with zones); the home page and breadcrumbs do the navigating.
admin.site.enable_nav_sidebar = False
