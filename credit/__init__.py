"""FarmTrust's credit engine: pure functions from a frozen farm record to an explained limit and a loan."""

from credit.audit import (
    AuditChain,
    AuditEntry,
    AuditProblem,
    AuditReport,
    Checkpoint,
    generate_signing_key,
    public_key_of,
    sign_checkpoint,
    verify_chain,
)
from credit.canonical import canonical_json, sha256_hex
from credit.count_intervals import CameraInterval
from credit.decision import Counterfactual, Decision, Factor, decide_limit
from credit.errors import (
    AuditError,
    CreditError,
    MoneyError,
    PaymentError,
    PolicyError,
    RecordError,
    ScheduleError,
)
from credit.fraud import FraudAssessment, FraudSignal, assess_fraud
from credit.money import Amount, D
from credit.policy import Policy, load_policy
from credit.record import (
    Delivery,
    DeviceCoverage,
    FarmRecord,
    FieldRecord,
    FrameSeen,
    HerdDay,
    NdviPoint,
    PastLoan,
    SensorDay,
)
from credit.schedule import Instalment, Schedule, build_schedule
from credit.scorecard import Points, Reason
from credit.servicing import (
    Allocation,
    Dues,
    LoanStatus,
    Par,
    Payment,
    PaymentAllocation,
    allocate_payment,
    bucket_for,
    loan_status,
    portfolio_par,
)
from credit.valuation import CropEstimate, HerdEstimate, Valuation, value_production
from credit.verification import Component, Verification, score_verification

__all__ = [
    "Allocation",
    "Amount",
    "AuditChain",
    "AuditEntry",
    "AuditError",
    "AuditProblem",
    "AuditReport",
    "CameraInterval",
    "Checkpoint",
    "Component",
    "Counterfactual",
    "CreditError",
    "CropEstimate",
    "D",
    "Decision",
    "Delivery",
    "DeviceCoverage",
    "Dues",
    "Factor",
    "FarmRecord",
    "FieldRecord",
    "FrameSeen",
    "FraudAssessment",
    "FraudSignal",
    "HerdDay",
    "HerdEstimate",
    "Instalment",
    "LoanStatus",
    "MoneyError",
    "NdviPoint",
    "Par",
    "PastLoan",
    "Payment",
    "PaymentAllocation",
    "PaymentError",
    "Points",
    "Policy",
    "PolicyError",
    "Reason",
    "RecordError",
    "Schedule",
    "ScheduleError",
    "SensorDay",
    "Valuation",
    "Verification",
    "allocate_payment",
    "assess_fraud",
    "bucket_for",
    "build_schedule",
    "canonical_json",
    "decide_limit",
    "generate_signing_key",
    "load_policy",
    "loan_status",
    "portfolio_par",
    "public_key_of",
    "score_verification",
    "sha256_hex",
    "sign_checkpoint",
    "value_production",
    "verify_chain",
]
