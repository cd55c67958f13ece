from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/token/", api.TokenCreate.as_view(), name="api-token"),
    path("me/", api.Me.as_view(), name="api-me"),
]
