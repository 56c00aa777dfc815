from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    verbose_name = "Connections"
    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"
