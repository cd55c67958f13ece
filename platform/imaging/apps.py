from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Imaging"

    def ready(self) -> None:
        from imaging.panels import register

        register()
