"""What a grading run reports: per student findings and scores, the grades CSV, feedback.

- ``REPORT_DIR/report.md`` and ``report.json``: every student's score, status (graded,
  review, timeout, memory, crashed, not graded) and findings (prechecks, the guard, kernel
  deaths, cell timeouts, limits met), the isolation used (a grade without any is marked
  UNCONFINED), what enforced the limits, the gradebook backup and the check of ``submitted/``;
- ``REPORT_DIR/grades.csv``: ``nbgrader export`` of the course's gradebook;
- ``feedback/STUDENT/ASSIGNMENT/*.html``: ``nbgrader generate_feedback`` with
  :class:`HideHiddenTests` after nbgrader's own ``GetGrades``: hidden test code is removed and
  the tracebacks of test cells are cut to their last line, so the feedback never shows
  hidden test code.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.preprocessors.clearhiddentests import ClearHiddenTests

from ...course import course_setting
from .. import misconception_report
from .. import nbgrader_course as course_tools
from . import gradebook_writes as gradebooks
from .results import RunReport, StudentResult

#: nbgrader generate_feedback's steps: hidden tests removed after nbgrader's own GetGrades.
FEEDBACK_PREPROCESSORS = (
    "nbgrader.preprocessors.GetGrades", "sidebyside.instructor.grading.report.HideHiddenTests", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
)


def table(run: RunReport) -> str:
    """The summary table (plain text, also valid Markdown)."""
    rows = [("student", "score", "status", "findings", "seconds", "peak MB", "isolation")]
    for s in run.students:
        rows.append((s.student, f"{s.score:g} / {s.max_score:g}", s.status.value, str(len(s.findings)), f"{s.outcome.seconds:.0f}",
                     f"{s.outcome.peak_memory_mb:.0f}", s.outcome.isolation.value if s.confined else "UNCONFINED"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def markdown(run: RunReport, report_dir: Path | None = None, source: Path | None = None) -> str:
    """report.md; with ``report_dir``, also the class's misconceptions (tables and charts written
    there; ``source``, the assignment's source folder, may hold its own catalogue)."""
    out = [f"# Grading report: {run.assignment}", ""]
    out.append(f"- students: {len(run.students)} ({run.graded} graded now, {len(run.resumed)} resumed from an earlier run)")
    out.append(f"- workers: {run.workers}; wall time {run.seconds:.0f} s")
    out.append(f"- isolation: {run.isolation_note}")
    if run.limits_note:
        out.append(f"- limits: {run.limits_note}")
    out.append(f"- submitted/ unchanged (sha256 of every file before and after): {'yes' if run.submitted_unchanged else 'NO'}")
    out += [f"- {note}" for note in run.notes]
    out += [f"- **FAILED**: {failure}" for failure in run.output_failures]
    if run.csv:
        out.append(f"- grades CSV: {run.csv}")
    if run.feedback:
        out.append(f"- feedback: {run.feedback}")
    out += ["", "## Summary", "", table(run), ""]
    if report_dir is not None:
        out += misconception_report.markdown(run.assignment, run.students, report_dir, source)
    out += ["## Needs a person", ""]
    out += [f"- **{s.student}**: {s.status.help}" for s in run.needs_review] or ["- nobody"]
    out += ["", "## Students", ""]
    for s in run.students:
        out += [f"### {s.student}: {s.score:g} / {s.max_score:g} ({s.status.value}{'' if s.confined else ', UNCONFINED'})", ""]
        for nb, cells in s.outcome.scores.items():
            maxima = s.outcome.max_scores.get(nb, {})
            out += ["| cell | score | max |", "|---|---|---|"]
            out += [f"| {nb}:{cell} | {'-' if v is None else f'{v:g}'} | {maxima.get(cell, 0):g} |" for cell, v in cells.items()]
            out.append("")
        out += [f"- [{f.severity.value}] {f.code}: {f.message}" for f in s.findings]
        out.append("")
    return "\n".join(out)


class HideHiddenTests(NbGraderPreprocessor):
    """For feedback: remove hidden test code from test cells, cut a failure inside the hidden
    tests down to its diagnosis (its expected and got may quote hidden inputs), and cut the
    tracebacks to the final ``Error: message`` line (a traceback quotes the failing line)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if utils.is_grade(cell) and cell.cell_type == "code":
            clear = ClearHiddenTests(enforce_metadata=False)
            misconception_report.hide_hidden_details(cell)  # before the tracebacks go: it reads their lines
            clear._remove_hidden_test_region(cell)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
        return cell, resources


def write(run: RunReport, root: Path, db_url: str, report_dir: Path, *, feedback: bool, nbgrader_server: str | None = None) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    csv = report_dir / "grades.csv"
    url, env = gradebooks.for_nbgrader(db_url)  # the password in the environment, not on a command line

    def nbgrader(command: str, *args: str) -> bool:
        done = course_tools.run_nbgrader([command, *args, f"--CourseDirectory.db_url={url}"], root, check=False, env=env, server=nbgrader_server)
        if done.returncode != 0:
            run.output_failures.append(f"nbgrader {command} failed: {done.stderr[-500:]}")
        return done.returncode == 0

    # graders of this course running at once take turns: the last CSV written holds every grade
    with gradebooks.file_lock(root / ".grading" / "report.lock"):
        if nbgrader("export", f"--to={csv}"):
            run.csv = str(csv)
        if feedback and any(s.outcome.scores for s in run.students):
            options = [f"--GenerateFeedback.preprocessors={name}" for name in FEEDBACK_PREPROCESSORS]
            if nbgrader("generate_feedback", run.assignment, "--force", *options):
                run.feedback = str(root / "feedback")
        # under the same lock: a run that grades some students (--student, or another grader)
        # keeps the others' results in the assignment's report instead of overwriting them
        written = with_earlier_results(run, report_dir / "report.json")
        data = {**written.as_dict(), "misconceptions": misconception_report.by_student(written.students)}
        (report_dir / "report.json").write_text(json.dumps(data, indent=1, default=str))
        source = root / course_setting(root, "source_directory", "source") / run.assignment
        (report_dir / "report.md").write_text(markdown(written, report_dir, source))


def with_earlier_results(run: RunReport, report_json: Path) -> RunReport:
    """``run``, plus the result that ``report_json`` (an earlier run's) holds for each student
    this run did not grade, with a note naming them; ``run`` itself is left as it is (the exit
    status is about this run)."""
    if not report_json.is_file():
        return run
    try:
        earlier = json.loads(report_json.read_text())
        if earlier.get("assignment") != run.assignment:
            return run
        students = [StudentResult.from_dict(data) for data in earlier.get("students", [])]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        note = f"the earlier {report_json.name} could not be read ({type(error).__name__}: {error}): it lists only this run's students now"
        return dataclasses.replace(run, notes=[*run.notes, note])
    graded_now = {s.student for s in run.students}
    kept = [s for s in students if s.student not in graded_now]
    if not kept:
        return run
    note = f"{len(kept)} student(s) not graded in this run keep their result from an earlier run: {', '.join(s.student for s in kept)}"
    return dataclasses.replace(run, students=sorted([*run.students, *kept], key=lambda s: s.student), notes=[*run.notes, note])
