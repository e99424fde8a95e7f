"""What an automation run did: one report per run, one per step, one item per service touched."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class StepItem:
    """What a step did (or would do) to one service, and why."""

    step: int
    service_id: int | None
    outcome: str
    message: str
    job_id: int | None = None


@dataclass
class StepReport:
    """One step: its rule with the settings in force, and one item per service it touched."""

    number: int
    title: str
    rule: str
    items: list[StepItem] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        """How many services ended with `outcome`."""
        return sum(1 for item in self.items if item.outcome == outcome)

    def summary(self, dry_run: bool = False) -> str:
        """The step's one summary line: counts by outcome, time taken and the rule in force."""
        outcomes = dict.fromkeys(item.outcome for item in self.items)
        parts = [f"{self.count(outcome)} {outcome}" for outcome in outcomes]
        verb = "would touch" if dry_run else "touched"
        return f"step {self.number} {self.title}: {verb} {len(self.items)}: {', '.join(parts) or 'nothing to do'} in {self.seconds:.2f}s [{self.rule}]"


@dataclass
class AutomationReport:
    """A whole run: when it ran as, with which settings, each step, or who held the lock."""

    at: datetime
    dry_run: bool
    settings: dict[str, str]
    steps: list[StepReport] = field(default_factory=list)
    locked_by: str | None = None
    run_id: int | None = None
    """The run's record (`automation history`)."""

    @property
    def locked_out(self) -> bool:
        """True when another run held the lock and this one did nothing."""
        return self.locked_by is not None

    @property
    def failed(self) -> list[StepItem]:
        """Every item that failed (a module job or a mail)."""
        return [item for step in self.steps for item in step.items if item.outcome == "failed"]

    @property
    def exit_code(self) -> int:
        """0 done (skips are the rules at work), 3 when a job or a mail failed."""
        return 3 if self.failed else 0

    def settings_line(self) -> str:
        """The settings in force, as one line."""
        return "settings in force: " + " ".join(f"{key}={value}" for key, value in self.settings.items())
