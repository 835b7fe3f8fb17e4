"""Data quality: the Great Expectations gate that guards publication of the monthly KPI mart."""

from chiso.quality.gate import ExpectationFailure, GateConfigError, GateResult, validate_month

__all__ = ["ExpectationFailure", "GateConfigError", "GateResult", "validate_month"]
