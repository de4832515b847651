"""The set-up's permission record: each permission it used, whether AWS granted it, and the fix.

A learner on a SageMaker notebook usually runs with the ``AmazonSageMakerFullAccess`` managed
policy only. The set-up works within it where it can; where it cannot, the report names the
denied action and prints the exact IAM policy statement an administrator should add.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

GRANTED = "granted"
DENIED = "denied"
SKIPPED = "not needed"


@dataclass(frozen=True)
class AccessCheck:
    """One permission the set-up used (or needed), and what happened."""

    action: str
    resource: str
    outcome: str
    note: str = ""

    def statement(self) -> dict[str, object]:
        """The IAM policy statement that grants this permission."""
        return {"Effect": "Allow", "Action": self.action, "Resource": self.resource}


@dataclass
class AccessLog:
    """Every permission check of one set-up, in order."""

    checks: list[AccessCheck] = field(default_factory=list)

    def record(self, action: str, resource: str, outcome: str, note: str = "") -> None:
        """Add one check."""
        self.checks.append(AccessCheck(action, resource, outcome, note))

    @property
    def denied(self) -> list[AccessCheck]:
        """The checks AWS refused."""
        return [check for check in self.checks if check.outcome == DENIED]

    def policy_to_add(self) -> dict[str, object] | None:
        """A policy document with one statement per denied permission (None when none)."""
        if not self.denied:
            return None
        statements = []
        for check in self.denied:
            statement = check.statement()
            if statement not in statements:
                statements.append(statement)
        return {"Version": "2012-10-17", "Statement": statements}

    def __str__(self) -> str:
        lines = ["Permissions checked:"]
        for check in self.checks:
            note = f"  ({check.note})" if check.note else ""
            lines.append(f"  {check.outcome:<10} {check.action} on {check.resource}{note}")
        policy = self.policy_to_add()
        if policy is not None:
            lines.append(
                "To grant what was denied, an administrator can add this policy to your role:"
            )
            lines.append(json.dumps(policy, indent=2))
        return "\n".join(lines)
