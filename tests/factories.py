import factory

from accounts.models import Role, User
from imaging.models import Patient, Series, SeriesState, Study
from projects.models import Membership, Project
from projects.schema import default_schema

PASSWORD = "correct horse battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Faker("name")
    password = factory.django.Password(PASSWORD)


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")
    label_schema = factory.LazyFunction(default_schema)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ANNOTATOR


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    project = factory.SubFactory(ProjectFactory)
    patient_id = factory.Sequence(lambda n: f"P{n:05d}")


class StudyFactory(factory.django.DjangoModelFactory):
    """Study rows without images: for workflow tests that never read pixels."""

    class Meta:
        model = Study

    project = factory.SubFactory(ProjectFactory)
    patient = factory.SubFactory(PatientFactory, project=factory.SelfAttribute("..project"))
    study_instance_uid = factory.Sequence(lambda n: f"2.25.1{n}")


class SeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Series

    project = factory.SubFactory(ProjectFactory)
    study = factory.SubFactory(StudyFactory, project=factory.SelfAttribute("..project"))
    series_instance_uid = factory.Sequence(lambda n: f"2.25.2{n}")
    modality = "CT"
    state = SeriesState.READY
