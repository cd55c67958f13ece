from django.urls import path

from inference import views

urlpatterns = [
    path(
        "series/<int:series_id>/inference/",
        views.series_inference,
        name="series-inference",
    ),
]
