"""The ``privacy`` section of the routing policy: erasure, consent withdrawal and retention.

```yaml
privacy:
  erasure:
    default: anonymise          # or delete: what happens to a partner CRM's copy
    connections: {acme_sf: delete}
    home: false                 # also erase the record in the manufacturer CRM
  consent_withdrawal: anonymise # or delete, or keep: partners that hold the lead
  retention_days: {rejected: 30, nurture: 365, closed: 730}
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leadbridge.core.lifecycle import LeadState

ErasureMode = Literal["anonymise", "delete"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Erasure(_Strict):
    """How an erasure reaches each recipient (``default`` unless ``connections`` names it)."""

    default: ErasureMode = "anonymise"
    connections: dict[str, ErasureMode] = Field(default_factory=dict)
    home: bool = False

    def mode_for(self, connection: str) -> ErasureMode:
        return self.connections.get(connection, self.default)


class Privacy(_Strict):
    """Erasure, consent withdrawal and retention rules (module docstring)."""

    erasure: Erasure = Field(default_factory=Erasure)
    consent_withdrawal: Literal["anonymise", "delete", "keep"] = "anonymise"
    retention_days: dict[str, int] = Field(default_factory=dict)

    @field_validator("retention_days")
    @classmethod
    def _known_states(cls, value: dict[str, int]) -> dict[str, int]:
        states = {state.value for state in LeadState if state is not LeadState.ERASED}
        for state, days in value.items():
            if state not in states:
                raise ValueError(
                    f"retention_days: unknown state {state!r} (known: {', '.join(sorted(states))})"
                )
            if days < 1:
                raise ValueError(f"retention_days.{state}: must be at least 1 day, got {days}")
        return value
