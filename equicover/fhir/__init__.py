"""FHIR R4 for equicover: parsing of FHIR input (``parsing``), the parameters and paging links of
searches (``search``), the formats served (``negotiation``), the payers and local codes of the stored
policies (``terminology``) and the ``/fhir`` HTTP endpoints (``api``); the resources themselves are
built by :mod:`equicover.fhir_mapping`. See docs/fhir.md.

Models come from ``fhir.resources`` 8.3.0 (pinned, with its base ``fhir-core`` 1.1.12). Its
top-level package is FHIR R5, so we use its ``fhir.resources.R4B`` subpackage (FHIR 4.3.0). R4B
changed only the medication-definition, evidence and subscription modules and added new types;
HL7 states that implementers not using those parts see no functional difference between R4 and
R4B (https://hl7.org/fhir/R4B/r4b-explanation.html). The resources served here (Patient, Group,
Organization, Location, Coverage, CoverageEligibilityRequest/Response, Claim, ClaimResponse,
ExplanationOfBenefit, PaymentReconciliation, Bundle, OperationOutcome, CapabilityStatement) are
outside those parts, so the server declares ``fhirVersion`` 4.0.1. No release of fhir.resources
with R4 as its top-level package works with pydantic 2 (6.x needs pydantic 1).
"""
