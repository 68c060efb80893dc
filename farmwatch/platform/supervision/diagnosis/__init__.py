"""Video quality diagnosis (issue 11 item 5; regulation art. 19): the pure checks of a
sampled picture (`checks`), the sampler that samples every online camera evenly over
`[supervision] diagnosis_interval` (`sampler`), their persistence (`repository`), what the
API shows (`service`) and the port to the fault tickets (`PictureFaults`)."""

from farmwatch.platform.supervision.diagnosis.checks import (
    CheckVerdict,
    Diagnosis,
    DiagnosisThresholds,
    Measurements,
    Picture,
    PictureFault,
    diagnose,
)
from farmwatch.platform.supervision.diagnosis.faults import PictureFaults
from farmwatch.platform.supervision.diagnosis.records import (
    CameraPictureState,
    PictureSample,
    SampleOutcome,
)
from farmwatch.platform.supervision.diagnosis.repository import DiagnosisRepository
from farmwatch.platform.supervision.diagnosis.sampler import (
    SAMPLE_WIDTH,
    DiagnosisSampler,
    PictureSource,
    SamplerSettings,
)
from farmwatch.platform.supervision.diagnosis.service import CameraDiagnosis, DiagnosisService

__all__ = [
    "SAMPLE_WIDTH",
    "CameraDiagnosis",
    "CameraPictureState",
    "CheckVerdict",
    "Diagnosis",
    "DiagnosisRepository",
    "DiagnosisSampler",
    "DiagnosisService",
    "DiagnosisThresholds",
    "Measurements",
    "Picture",
    "PictureFault",
    "PictureFaults",
    "PictureSample",
    "PictureSource",
    "SampleOutcome",
    "SamplerSettings",
    "diagnose",
]
