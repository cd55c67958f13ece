from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from imaging.selectors import studies_of
from imaging.serializers import StudyOut
from projects.selectors import project_for


class StudyList(ListAPIView):
    serializer_class = StudyOut

    @extend_schema(responses=StudyOut(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        assert isinstance(request.user, User)
        studies = studies_of(project_for(request.user, project_id))
        page = self.paginate_queryset(studies)
        return self.get_paginated_response(StudyOut(page, many=True).data)
