"""De-identification by the DICOM PS3.15 Basic Application Level Confidentiality Profile.

Runs before anything reaches storage when the project has it on. Identifying attributes are
removed, emptied or replaced; every instance UID is replaced by a new one, consistently within
the project (the mapping is kept in DeidMapping, which only site admins can read); private
attributes, overlays and curves are removed. Pixel data is not touched (burned-in annotation
is out of scope of the basic profile and flagged by BurnedInAnnotation).
"""

import uuid
from collections.abc import Callable

from django.db import IntegrityError, transaction
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID_dictionary

from imaging.models import DeidMapping
from projects.models import Project

# Attributes emptied (Z): type 2 attributes that must stay present but say nothing.
EMPTIED = (
    "AccessionNumber", "PatientBirthDate", "PatientSex", "ReferringPhysicianName",
    "StudyDate", "StudyTime", "StudyID", "ContentDate", "ContentTime", "ContentCreatorName",
    "PlacerOrderNumberImagingServiceRequest", "FillerOrderNumberImagingServiceRequest",
    "VerifyingObserverName", "ContrastBolusAgent",
)  # fmt: skip

# Attributes removed (X).
REMOVED = (
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
    "InstitutionCodeSequence", "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers",
    "ReferringPhysicianIdentificationSequence", "StationName", "PhysiciansOfRecord",
    "PhysiciansOfRecordIdentificationSequence", "PerformingPhysicianName",
    "PerformingPhysicianIdentificationSequence", "NameOfPhysiciansReadingStudy",
    "PhysiciansReadingStudyIdentificationSequence", "OperatorsName",
    "OperatorIdentificationSequence", "AdmittingDiagnosesDescription",
    "AdmittingDiagnosesCodeSequence", "PatientAge", "PatientSize", "PatientWeight",
    "PatientAddress", "PatientTelephoneNumbers", "PatientMotherBirthName", "OtherPatientIDs",
    "OtherPatientNames", "OtherPatientIDsSequence", "PatientBirthName", "PatientBirthTime",
    "MilitaryRank", "BranchOfService", "MedicalRecordLocator", "EthnicGroup", "Occupation",
    "AdditionalPatientHistory", "PatientComments", "PatientReligiousPreference",
    "CountryOfResidence", "RegionOfResidence", "CurrentPatientLocation",
    "PatientInstitutionResidence", "ResponsiblePerson", "ResponsibleOrganization",
    "MedicalAlerts", "Allergies", "SmokingStatus", "PregnancyStatus", "LastMenstrualDate",
    "SpecialNeeds", "PatientState", "IssuerOfPatientID", "InsurancePlanIdentification",
    "PatientInsurancePlanCodeSequence", "DeviceSerialNumber", "PlateID", "ProtocolName",
    "RequestingPhysician", "RequestingService", "RequestedProcedureDescription",
    "RequestedProcedureID", "RequestAttributesSequence", "ScheduledProcedureStepDescription",
    "ScheduledProcedureStepID", "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime", "ScheduledProcedureStepEndDate",
    "ScheduledProcedureStepEndTime", "PerformedProcedureStepDescription",
    "PerformedProcedureStepID", "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime", "PerformedProcedureStepEndDate",
    "PerformedProcedureStepEndTime", "PerformedLocation", "ImageComments", "StudyComments",
    "StudyDescription", "SeriesDescription", "SeriesDate", "SeriesTime", "AcquisitionDate",
    "AcquisitionTime", "AcquisitionDateTime", "InstanceCreationDate", "InstanceCreationTime",
    "InstanceCreatorUID", "OverlayDate", "OverlayTime", "CurveDate", "CurveTime", "AdmittingDate",
    "AdmittingTime", "DischargeDate", "DischargeTime", "VisitComments", "AdmissionID",
    "PersonName", "PersonAddress", "PersonTelephoneNumbers", "TextString", "TextComments",
    "ReferencedPatientSequence", "ReferencedStudySequence",
    "ReferencedPerformedProcedureStepSequence", "ReferencedPatientPhotoSequence",
    "DerivationDescription", "SourceImageSequence", "ContentSequence", "AcquisitionComments",
    "DetectorID", "GantryID", "ModifiedAttributesSequence", "OriginalAttributesSequence",
    "DigitalSignaturesSequence", "FrameComments", "InterpretationAuthor",
    "InterpretationRecorder", "InterpretationTranscriber", "InterpretationText",
    "InterpretationDiagnosisDescription", "ResultsComments", "DistributionName",
    "DistributionAddress", "StorageMediaFileSetID",
    "RequestedContrastAgent", "ReasonForTheRequestedProcedure", "ReasonForStudy",
    "IdentifyingComments", "ServiceEpisodeDescription", "ServiceEpisodeID",
    "ScheduledPatientInstitutionResidence", "AuthorObserverSequence",
    "ParticipantSequence", "CustodialOrganizationSequence", "VerifyingOrganization",
)  # fmt: skip

METHOD = "NoduleFlow PS3.15 Basic Application Confidentiality Profile"


class UidMapper:
    """Replaces identifying UIDs with new 2.25 UIDs, the same replacement each time per project.

    Standard UIDs (SOP classes, transfer syntaxes, coding schemes) identify nothing and are kept.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self.cache: dict[tuple[str, str], str] = {}

    def uid(self, original: str) -> str:
        if original in UID_dictionary:
            return original
        return self._mapped(DeidMapping.Kind.UID, original, lambda: f"2.25.{uuid.uuid4().int}")

    def patient_id(self, original: str) -> str:
        return self._mapped(
            DeidMapping.Kind.PATIENT_ID, original, lambda: f"NF-{uuid.uuid4().hex[:12].upper()}"
        )

    def _mapped(self, kind: str, original: str, new: Callable[[], str]) -> str:
        key = (kind, original)
        if key not in self.cache:
            self.cache[key] = self._stored(kind, original, new)
        return self.cache[key]

    def _stored(self, kind: str, original: str, new: Callable[[], str]) -> str:
        lookup = {"project": self.project, "kind": kind, "original": original}
        existing = DeidMapping.objects.filter(**lookup).values_list("replacement", flat=True)
        if found := existing.first():
            return found
        try:
            with transaction.atomic():
                return DeidMapping.objects.create(**lookup, replacement=new()).replacement
        except IntegrityError:  # another ingest mapped it first: use theirs
            return DeidMapping.objects.get(**lookup).replacement


def deidentify(dataset: Dataset, mapper: UidMapper) -> None:
    """De-identify `dataset` in place, including its file meta and nested sequences."""
    pseudonym = mapper.patient_id(str(dataset.get("PatientID", "")) or "(none)")
    dataset.remove_private_tags()
    _clean(dataset, mapper)
    dataset.PatientID = pseudonym
    dataset.PatientName = pseudonym
    dataset.PatientIdentityRemoved = "YES"
    dataset.LongitudinalTemporalInformationModified = "REMOVED"
    dataset.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue = "113100"
    code.CodingSchemeDesignator = "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    dataset.DeidentificationMethodCodeSequence = Sequence([code])
    meta = dataset.file_meta
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.ImplementationVersionName = "NODULEFLOW"


def _clean(dataset: Dataset, mapper: UidMapper) -> None:
    for keyword in REMOVED:
        if keyword in dataset:
            delattr(dataset, keyword)
    for keyword in EMPTIED:
        if keyword in dataset:
            dataset[keyword].value = None
    for tag in [el.tag for el in dataset if (el.tag.group & 0xFF00) in (0x5000, 0x6000)]:
        # Curves (50xx) and overlays (60xx) may carry burned-in text or identifying graphics.
        del dataset[tag]
    for element in dataset:
        if element.VR == "UI" and element.value:
            values = element.value if element.VM > 1 else [element.value]
            mapped = [mapper.uid(str(value)) for value in values]
            element.value = mapped if element.VM > 1 else mapped[0]
        elif element.VR == "SQ":
            for item in element.value:
                _clean(item, mapper)
