from django.urls import path

from projects import api

urlpatterns = [
    path("projects/", api.ProjectList.as_view(), name="api-project-list"),
    path("projects/<int:project_id>/", api.ProjectDetail.as_view(), name="api-project-detail"),
    path("projects/<int:project_id>/members/", api.MemberList.as_view(), name="api-member-list"),
    path(
        "projects/<int:project_id>/members/<int:user_id>/<str:role>/",
        api.MemberDetail.as_view(),
        name="api-member-detail",
    ),
]
