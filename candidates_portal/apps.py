from django.apps import AppConfig


class CandidatesPortalConfig(AppConfig):
    verbose_name = "Candidate portal"
    name = "candidates_portal"
    default_auto_field = "django.db.models.BigAutoField"
