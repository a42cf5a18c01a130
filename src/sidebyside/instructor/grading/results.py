"""What a grading run finds: findings, each student's outcome and result, the run's report.

A plain model shared by every step (:mod:`.precheck`, :mod:`.student`, :mod:`.run`,
:mod:`.report`); it imports none of them. Statuses and severities are enums whose values are
the strings written to ``report.json`` and to the resume markers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum


class Severity(str, Enum):
    REPAIRED = "repaired"  # graded normally after a repair
    INFO = "info"  # worth knowing, no effect on the score
    REVIEW = "review"  # a person must look


class Status(str, Enum):
    GRADED = "graded"
    REVIEW = "review"
    NOT_GRADED = "not_graded"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASHED = "crashed"

    @property
    def help(self) -> str:
        return {
            "graded": "graded, nothing to check",
            "review": "graded, but a person should look (see findings)",
            "not_graded": "could not be graded (see findings): needs manual grading",
            "timeout": "stopped at the wall-clock budget: needs manual grading",
            "memory": "stopped at the memory cap: needs manual grading",
            "crashed": "grading failed: needs manual grading",
        }[self.value]


class Isolation(str, Enum):
    """How student kernels were confined (see :mod:`.sandbox`)."""

    ROOT = "root"  # bubblewrap run as root; kernels as a user id of their own
    USER = "user"  # bubblewrap run by an ordinary user, through user namespaces
    NONE = "none"  # unconfined


@dataclass
class Finding:
    severity: Severity
    code: str
    message: str


@dataclass
class Outcome:
    """What happened to one student's grading processes."""

    status: Status = Status.GRADED  # GRADED here means "ran to the end"
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)  # notebook -> cell -> score
    max_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    guard: dict[str, list[dict]] = field(default_factory=dict)  # notebook -> findings of the guard
    timeouts: list[str] = field(default_factory=list)  # cells that hit nbgrader's cell timeout
    misconceptions: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # notebook -> test cell -> ids diagnosed
    limits: list[Finding] = field(default_factory=list)  # limits the student's processes met
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    log_tail: str = ""
    isolation: Isolation = Isolation.NONE


@dataclass
class StudentResult:
    student: str
    status: Status
    score: float
    max_score: float
    findings: list[Finding]
    outcome: Outcome
    submission_hash: str

    @property
    def confined(self) -> bool:
        return self.outcome.isolation != Isolation.NONE

    @classmethod
    def of(cls, student: str, prechecks: list[Finding], outcome: Outcome, submission_hash: str) -> StudentResult:
        """Gather the prechecks, the guard's findings and the limits met into one result."""
        findings = list(prechecks)
        for notebook, items in outcome.guard.items():
            for item in items:
                details = item["details"] if isinstance(item["details"], str) else "; ".join(item["details"])
                where = f"{notebook}: cell {item.get('cell') or item.get('index')}"
                message = {
                    "restored": f"{where}: before this read-only cell the grader undid: {details}",
                    "tampered": f"{where}: changed while this test ran, so it scores 0: {details}",
                    "kernel_died": f"{where}: the kernel died; later cells were not run and score 0",
                }.get(item["kind"], f"{where}: {details}")
                code = "tampering" if item["kind"] in ("restored", "tampered", "reordered") else item["kind"]
                findings.append(Finding(Severity.REVIEW, code, message))
        findings += [Finding(Severity.REVIEW, "cell_timeout", f"cell {cell} hit nbgrader's cell timeout and scores 0") for cell in outcome.timeouts]
        findings += outcome.limits
        if outcome.status in (Status.TIMEOUT, Status.MEMORY, Status.CRASHED):
            findings.append(Finding(Severity.REVIEW, outcome.status.value, f"grading stopped: {outcome.status.help}\n{outcome.log_tail[-1500:]}"))
        if outcome.isolation == Isolation.NONE and outcome.scores:
            findings.append(Finding(Severity.INFO, "unconfined", "graded UNCONFINED: the kernel had the network and the grader's file rights"))
        status = outcome.status
        if status == Status.GRADED and any(f.severity == Severity.REVIEW for f in findings):
            status = Status.REVIEW
        score = sum(v or 0.0 for cells in outcome.scores.values() for v in cells.values())
        maximum = sum(v or 0.0 for cells in outcome.max_scores.values() for v in cells.values())
        return cls(student, status, score, maximum, findings, outcome, submission_hash)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> StudentResult:
        """The inverse of :meth:`as_dict` (a resumed run reads its markers back)."""
        outcome = dict(data["outcome"])
        outcome["status"] = Status(outcome["status"])
        outcome["isolation"] = Isolation(outcome["isolation"])
        outcome["limits"] = [_finding(f) for f in outcome.get("limits", [])]
        return cls(
            student=data["student"], status=Status(data["status"]), score=data["score"], max_score=data["max_score"],
            findings=[_finding(f) for f in data["findings"]], outcome=Outcome(**outcome), submission_hash=data["submission_hash"],
        )


def _finding(data: dict) -> Finding:
    return Finding(Severity(data["severity"]), data["code"], data["message"])


@dataclass
class RunReport:
    assignment: str
    root: str
    isolation: Isolation
    workers: int
    isolation_note: str = ""
    limits_note: str = ""
    students: list[StudentResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    graded: int = 0
    seconds: float = 0.0
    submitted_unchanged: bool = True
    csv: str | None = None
    feedback: str | None = None
    #: what ran but failed after grading (nbgrader export, generate_feedback): grades are in the
    #: gradebook, but grades.csv or the students' feedback is missing or stale
    output_failures: list[str] = field(default_factory=list)

    @property
    def needs_review(self) -> list[StudentResult]:
        return [s for s in self.students if s.status != Status.GRADED]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)
