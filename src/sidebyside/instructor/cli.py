"""The ``sidebyside`` command, the course's one command line: ``lab``, ``doctor``, ``clean``,
``release``, ``grade``, ``hub``, ``gradebook``, ``serving``, ``servers``, ``site`` (the last five are
the ``main`` of their modules: hub, postgres, serving, servers, instructor.site)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

#: Subcommands that hand the rest of the command line to a module's own ``main(argv)``:
#: name -> (module, its main's help line).
FORWARDED = {
    "hub": ("sidebyside.instructor.hub.__main__", "the class hub on this machine: start | stop | status | restart"),
    "gradebook": ("sidebyside.instructor.hub.postgres", "the class's PostgreSQL gradebook: start | stop | status | url"),
    "serving": ("sidebyside.serving", "lesson 06's model servers: install-kserve | check"),
    "servers": ("sidebyside.servers", "lesson 03's Visdom: install-visdom-assets | check-visdom-assets"),
    "site": ("sidebyside.instructor.site", "build the course's static website into _site/ (what `make site` runs)"),
}


def _lab(args) -> int:
    from .. import lab

    lab.main()  # replaces this process with JupyterLab
    return 0


def _forwarded(name: str, rest: list[str]) -> int:
    import importlib

    module = importlib.import_module(FORWARDED[name][0])
    return module.main(rest, prog=f"sidebyside {name}") or 0


def _set_up_logging(verbose: bool, quiet: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("sidebyside")
    except PackageNotFoundError:
        return "unknown (not installed: run `make setup`)"


def _doctor(args) -> int:
    from .. import doctor

    doctor.show()
    return 0


def _clean(args) -> int:
    from .. import notebooks

    paths = notebooks.notebook_paths(*[Path(p) for p in args.paths])
    dirty = [p for p in paths if notebooks.clean_file(p, check=args.check)]
    for path in dirty:
        print(("not clean: " if args.check else "cleaned: ") + str(path))
    return 1 if (args.check and dirty) else 0


def _release(args) -> int:
    from . import nbgrader_course as assignments

    root = assignments.find_course_root()
    ids = assignments.assignment_ids(root) if args.all else args.assignments
    if not ids:
        print("Name an assignment (e.g. 01-learning-curve) or pass --all.", file=sys.stderr)
        return 2
    for assignment in ids:
        for path in assignments.release(assignment, root):
            print(f"released {path.relative_to(root)}")
    return 0


#: `sidebyside grade`'s exit statuses (its --help and the README list them).
GRADED, NEEDS_REVIEW, USAGE, UNSAFE, SUBMITTED_CHANGED, OUTPUTS_FAILED, CRASHED = 0, 1, 2, 3, 4, 5, 70


def _grade(args) -> int:
    """Grade, and map every way it can end to its own exit status (an uncaught error would
    exit 1, the status that means "some submissions need review")."""
    from .grading import run

    try:
        return _grade_class(args)
    except run.UnsafeToGrade as error:
        print(f"error: {error}", file=sys.stderr)
        return UNSAFE
    except KeyboardInterrupt:
        print("interrupted: the students graded so far are in the gradebook; run the same command to go on.", file=sys.stderr)
        return 130
    except Exception:
        import traceback

        traceback.print_exc()
        print("error: `sidebyside grade` crashed (the traceback is above). The students graded before the crash are in "
              "the gradebook and submitted/ is untouched; run the same command again to resume, and report the traceback "
              "if it happens again.", file=sys.stderr)
        return CRASHED


def _grade_class(args) -> int:
    from . import nbgrader_course as assignments
    from .grading import run

    root = Path(args.course).resolve() if args.course else assignments.find_course_root()
    options = run.Options(
        root=root,
        assignment=args.assignment,
        students=args.students or None,
        workers=args.workers,
        limits=run.sandbox.Limits(wall_seconds=args.timeout, memory_mb=args.memory),
        isolation=args.isolation,
        db_url=args.db,
        work=Path(args.workdir) if args.workdir else None,
        report_dir=Path(args.report_dir) if args.report_dir else None,
        restart=args.restart,
        warm_start=not args.cold_start,
        feedback=not args.no_feedback,
        hide=args.hide,
        progress=not args.quiet,
    )
    report = run.grade(options)
    from .grading import report as reports

    print(reports.table(report))
    print(f"isolation: {report.isolation_note}")
    for note in report.notes:
        print(note)
    for failure in report.output_failures:
        print(f"error: {failure}\nThe grades are in the gradebook; run this command again once the cause is fixed.", file=sys.stderr)
    print(f"report: {options.report_dir or root / 'reports' / args.assignment}/report.md")
    return grade_exit_status(report)


def grade_exit_status(report) -> int:
    """`sidebyside grade`'s exit status (its --help lists them), worst first."""
    if not report.submitted_unchanged:
        return SUBMITTED_CHANGED
    if report.output_failures:
        return OUTPUTS_FAILED
    return NEEDS_REVIEW if report.needs_review else GRADED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sidebyside", description="Tools for the Side by Side course.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true", help="also log what each step does (logging level INFO)")
    loudness.add_argument("-q", "--quiet", action="store_true", help="log errors only")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("lab", help="open the course in JupyterLab (what `make lab` runs)").set_defaults(run=_lab)
    commands.add_parser("doctor", help="report Python, both frameworks and every device they see").set_defaults(run=_doctor)
    clean = commands.add_parser("clean", help="strip outputs and write notebooks in canonical form")
    clean.add_argument("paths", nargs="+", help="notebooks or folders")
    clean.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is not clean")
    clean.set_defaults(run=_clean)
    release = commands.add_parser("release", help="regenerate exercises/ from solutions/ with nbgrader")
    release.add_argument("assignments", nargs="*", help="assignment ids such as 01-learning-curve")
    release.add_argument("--all", action="store_true", help="every assignment in solutions/")
    release.set_defaults(run=_release)
    grade = commands.add_parser(
        "grade",
        help="autograde every submission of an assignment: in parallel, isolated, checked for cheats",
        description=(
            "Grade submitted/STUDENT/ASSIGNMENT/ for every student with nbgrader's autograding, one private "
            "scratch course and process per student, and merge the scores into the course's gradebook. "
            "Writes reports/ASSIGNMENT/{report.md,report.json,grades.csv} and feedback/. Exit status: 0 all "
            "graded cleanly, 1 some submissions need a person (see the report), 2 a wrong command line, "
            "3 nothing graded: students' code cannot be confined here (install bubblewrap, or pass "
            "--isolation none on purpose), 4 submitted/ changed, 5 grades.csv or the feedback could not be "
            "written (nbgrader export or generate_feedback failed), 70 crashed (traceback on stderr; "
            "run it again to resume)."
        ),
    )
    grade.add_argument("assignment", help="assignment id such as 02-graph-generation")
    grade.add_argument("--student", dest="students", action="append", metavar="ID", help="grade only this student (repeatable)")
    grade.add_argument("--workers", type=int, default=0, help="parallel students (default: one per CPU core)")
    grade.add_argument("--timeout", type=float, default=1800, metavar="SECONDS", help="wall-clock budget per student (default 1800)")
    grade.add_argument("--memory", type=float, default=6000, metavar="MB", help="memory cap per student, nbgrader + kernel (default 6000)")
    grade.add_argument("--isolation", choices=["auto", "namespaces", "none"], default="auto", help=("kernel jail: auto (the default) and namespaces confine kernels with bubblewrap (no network, "
                             "instructor files hidden; needs root or user namespaces) and grade nothing where they cannot; "
                             "none runs students' code UNCONFINED, only when you name it"))
    grade.add_argument("--db", "--db-url", dest="db", metavar="URL", help=(
        "gradebook database URL (default: the course's CourseDirectory.db_url, e.g. sqlite:///gradebook.db); PostgreSQL: "
        "postgresql+psycopg://ROLE@127.0.0.1:5433/DATABASE with the password in PGPASSWORD or ~/.pgpass (a command line is "
        "visible to every user; the class's URL: `sidebyside gradebook url`)"))
    grade.add_argument("--course", metavar="DIR", help="course folder (default: found from the current folder)")
    grade.add_argument("--workdir", metavar="DIR", help="scratch folder (default COURSE/.grading/ASSIGNMENT)")
    grade.add_argument("--report-dir", metavar="DIR", help="where the report goes (default COURSE/reports/ASSIGNMENT)")
    grade.add_argument("--hide", action="append", default=[], metavar="PATH", help="another path student code must not see (repeatable)")
    grade.add_argument("--restart", action="store_true", help="regrade everyone (default: resume, skipping students already done)")
    grade.add_argument("--cold-start", action="store_true", help="start every nbgrader process and kernel from scratch instead of forking them from servers that imported nbgrader and the frameworks once (slower, same grades)")
    grade.add_argument("--no-feedback", action="store_true", help="skip nbgrader generate_feedback")
    grade.add_argument("--quiet", action="store_true", help="no progress bar")
    grade.set_defaults(run=_grade)
    for name, (_, summary) in FORWARDED.items():
        commands.add_parser(name, help=summary, add_help=False)  # listed here; run below, with its own --help
    argv = sys.argv[1:] if argv is None else list(argv)
    flags = {"-v", "--verbose", "-q", "--quiet"}
    first = next((i for i, word in enumerate(argv) if word not in flags), len(argv))
    if first < len(argv) and argv[first] in FORWARDED:
        given = set(argv[:first])
        _set_up_logging(bool(given & {"-v", "--verbose"}), bool(given & {"-q", "--quiet"}))
        return _forwarded(argv[first], argv[first + 1 :])
    args = parser.parse_args(argv)
    _set_up_logging(args.verbose, args.quiet)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
