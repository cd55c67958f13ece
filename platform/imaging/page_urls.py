"""Imaging pages under /projects/<project id>/: study list, study page, upload."""

from django.urls import path

from imaging import views

urlpatterns = [
    path("studies/", views.study_list, name="imaging-study-list"),
    path("studies/<int:study_pk>/", views.study_detail, name="imaging-study-detail"),
    path(
        "series/<int:series_pk>/thumbnail.png",
        views.series_thumbnail,
        name="imaging-series-thumbnail",
    ),
    path("upload/", views.upload_page, name="imaging-upload"),
    path("upload/files/", views.upload_files, name="imaging-upload-files"),
]
