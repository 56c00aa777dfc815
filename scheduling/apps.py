from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    verbose_name = "Scheduling"
    name = "scheduling"
    default_auto_field = "django.db.models.BigAutoField"
