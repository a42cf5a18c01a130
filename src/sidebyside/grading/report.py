"""What a grading run reports: per student findings and scores, the grades CSV, feedback.

- ``REPORT_DIR/report.md`` and ``report.json``: every student's score, status (graded,
  review, timeout, memory, crashed, not graded) and findings (prechecks, the guard, kernel
  deaths, cell timeouts), the isolation used, the gradebook backup and the check of
  ``submitted/``;
- ``REPORT_DIR/grades.csv``: ``nbgrader export`` of the course's gradebook;
- ``feedback/STUDENT/ASSIGNMENT/*.html``: ``nbgrader generate_feedback`` with
  :class:`HideHiddenTests` after nbgrader's own ``GetGrades``: hidden test code is removed and
  the tracebacks of test cells are cut to their last line, so the feedback never shows
  hidden test code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.preprocessors.clearhiddentests import ClearHiddenTests

from .. import assignments as course_tools

STATUS_HELP = {
    "graded": "graded, nothing to check",
    "review": "graded, but a person should look (see findings)",
    "not_graded": "could not be graded (see findings): needs manual grading",
    "timeout": "stopped at the wall-clock budget: needs manual grading",
    "memory": "stopped at the memory cap: needs manual grading",
    "crashed": "grading failed: needs manual grading",
}


def isolation_note(isolation: str) -> str:
    if isolation == "namespaces":
        return (
            "namespaces: each kernel ran without network (own network namespace), with a fresh /tmp and the "
            "course's solutions, submissions, autograded notebooks, feedback and gradebook hidden (own mount "
            "namespace), as a user of its own with no capabilities"
        )
    return (
        "none (weaker fallback: no root and no user namespaces here): kernels ran in an empty folder outside "
        "the course with the wall-clock and memory limits, but with network access and the grader's file rights"
    )


@dataclass
class RunReport:
    assignment: str
    root: str
    isolation: str
    workers: int
    isolation_note: str = ""
    students: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    graded: int = 0
    seconds: float = 0.0
    submitted_unchanged: bool = True
    csv: str | None = None
    feedback: str | None = None

    @property
    def needs_review(self) -> list:
        return [s for s in self.students if s.status != "graded"]

    def as_dict(self) -> dict:
        data = dict(self.__dict__)
        data["students"] = [s.as_dict() for s in self.students]
        return data


def student_result(student: str, checked, outcome, digest: str):
    from .run import StudentResult

    findings = [f.as_dict() for f in checked.findings]
    for notebook, guard in outcome.guard.items():
        for item in guard.get("findings", []):
            kind = item["kind"]
            details = item["details"] if isinstance(item["details"], str) else "; ".join(item["details"])
            where = f"{notebook}: cell {item.get('cell') or item.get('index')}"
            if kind == "restored":
                findings.append({"severity": "review", "code": "tampering", "message": f"{where}: before this read-only cell the grader undid: {details}"})
            elif kind == "tampered":
                findings.append({"severity": "review", "code": "tampering", "message": f"{where}: changed while this test ran, so it scores 0: {details}"})
            elif kind == "kernel_died":
                findings.append({"severity": "review", "code": "kernel_died", "message": f"{where}: the kernel died; later cells were not run and score 0"})
            elif kind == "reordered":
                findings.append({"severity": "review", "code": "tampering", "message": f"{where}: {details}"})
            else:
                findings.append({"severity": "review", "code": kind, "message": f"{where}: {details}"})
    for cell in outcome.timeouts:
        findings.append({"severity": "review", "code": "cell_timeout", "message": f"cell {cell} hit nbgrader's cell timeout and scores 0"})
    if outcome.status in ("timeout", "memory", "crashed"):
        findings.append({"severity": "review", "code": outcome.status, "message": f"grading stopped: {STATUS_HELP[outcome.status]}\n{outcome.log_tail[-1500:]}"})
    score = sum(v or 0.0 for cells in outcome.scores.values() for v in cells.values())
    maximum = sum(v or 0.0 for cells in outcome.max_scores.values() for v in cells.values())
    if outcome.status != "graded":
        status = outcome.status
    elif any(f["severity"] == "review" for f in findings):
        status = "review"
    else:
        status = "graded"
    return StudentResult(student=student, findings=findings, outcome=outcome.as_dict(), submission_hash=digest, score=score, max_score=maximum, status=status)


def table(run: RunReport) -> str:
    """The summary table (plain text, also valid Markdown)."""
    rows = [("student", "score", "status", "findings", "seconds", "peak MB")]
    for s in run.students:
        outcome = s.outcome
        rows.append((s.student, f"{s.score:g} / {s.max_score:g}", s.status, str(len(s.findings)), f"{outcome.get('seconds', 0):.0f}", f"{outcome.get('peak_memory_mb', 0):.0f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def markdown(run: RunReport) -> str:
    out = [f"# Grading report: {run.assignment}", ""]
    out.append(f"- students: {len(run.students)} ({run.graded} graded now, {len(run.resumed)} resumed from an earlier run)")
    out.append(f"- workers: {run.workers}; wall time {run.seconds:.0f} s")
    out.append(f"- isolation: {run.isolation_note}")
    out.append(f"- submitted/ unchanged (sha256 of every file before and after): {'yes' if run.submitted_unchanged else 'NO'}")
    out += [f"- {note}" for note in run.notes]
    if run.csv:
        out.append(f"- grades CSV: {run.csv}")
    if run.feedback:
        out.append(f"- feedback: {run.feedback}")
    out += ["", "## Summary", "", table(run), ""]
    review = run.needs_review
    out += ["## Needs a person", ""]
    out += [f"- **{s.student}**: {STATUS_HELP[s.status]}" for s in review] or ["- nobody"]
    out += ["", "## Students", ""]
    for s in run.students:
        out.append(f"### {s.student}: {s.score:g} / {s.max_score:g} ({s.status})")
        out.append("")
        for nb, cells in s.outcome.get("scores", {}).items():
            maxima = s.outcome.get("max_scores", {}).get(nb, {})
            out.append("| cell | score | max |")
            out.append("|---|---|---|")
            out += [f"| {nb}:{cell} | {'-' if v is None else f'{v:g}'} | {maxima.get(cell, 0):g} |" for cell, v in cells.items()]
            out.append("")
        for f in s.findings:
            out.append(f"- [{f['severity']}] {f['code']}: {f['message']}")
        out.append("")
    return "\n".join(out)


class HideHiddenTests(NbGraderPreprocessor):
    """For feedback: remove hidden test code from test cells, and cut their tracebacks to the
    final ``Error: message`` line (a traceback quotes the failing hidden line)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if utils.is_grade(cell) and cell.cell_type == "code":
            clear = ClearHiddenTests(enforce_metadata=False)
            clear._remove_hidden_test_region(cell)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
        return cell, resources


FEEDBACK_CONFIG = '''
from nbgrader.preprocessors import GetGrades
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from sidebyside.grading.report import HideHiddenTests

c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
'''


def write(run: RunReport, root: Path, db_url: str, report_dir: Path, *, feedback: bool, work: Path) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    csv = report_dir / "grades.csv"
    result = course_tools.run_nbgrader(["export", f"--to={csv}", f"--CourseDirectory.db_url={db_url}"], root, check=False)
    if result.returncode == 0:
        run.csv = str(csv)
    else:
        run.notes.append(f"nbgrader export failed: {result.stderr[-500:]}")
    if feedback:
        config = work / "feedback-config"
        config.mkdir(exist_ok=True)
        (config / "nbgrader_config.py").write_text(FEEDBACK_CONFIG)
        students = [s.student for s in run.students if s.outcome.get("scores")]
        if students:
            env = course_tools.nbgrader_env()
            env["JUPYTER_CONFIG_PATH"] = str(config)
            args = ["generate_feedback", run.assignment, "--force", f"--CourseDirectory.db_url={db_url}"]
            done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env, capture_output=True, text=True)
            if done.returncode == 0:
                run.feedback = str(root / "feedback")
            else:
                run.notes.append(f"nbgrader generate_feedback failed: {done.stderr[-500:]}")
    (report_dir / "report.json").write_text(json.dumps(run.as_dict(), indent=1, default=str))
    (report_dir / "report.md").write_text(markdown(run))
