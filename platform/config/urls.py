"""The URL map: pages, the REST API under /api/, DICOMweb under /dicomweb/ (imaging)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz

api: list[URLPattern | URLResolver] = [
    path("", include("accounts.urls")),
    path("", include("projects.urls")),
    path("", include("imaging.urls")),
    path("annotations/", include("annotations.urls")),
    path("inference/", include("inference.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="project-list", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/", include("projects.page_urls")),
    path("projects/<int:project_id>/", include("imaging.page_urls")),
    path("projects/<int:project_id>/", include("inference.page_urls")),
    path("projects/<int:project_id>/", include("annotations.project_urls")),
    path("dicomweb/", include("imaging.dicomweb.urls")),
    path("tasks/", include("annotations.page_urls")),
    path("api/", include(api)),
    path("admin/", admin.site.urls),
]
