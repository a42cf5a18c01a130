"""The ``sidebyside`` command: ``doctor``, ``clean``, ``release``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _doctor(args) -> int:
    from . import doctor

    doctor.show()
    return 0


def _clean(args) -> int:
    from . import notebooks

    paths = notebooks.notebook_paths(*[Path(p) for p in args.paths])
    dirty = [p for p in paths if notebooks.clean_file(p, check=args.check)]
    for path in dirty:
        print(("not clean: " if args.check else "cleaned: ") + str(path))
    return 1 if (args.check and dirty) else 0


def _release(args) -> int:
    from . import assignments

    root = assignments.find_course_root()
    ids = assignments.assignment_ids(root) if args.all else args.assignments
    if not ids:
        print("Name an assignment (e.g. 01-learning-curve) or pass --all.", file=sys.stderr)
        return 2
    for assignment in ids:
        for path in assignments.release(assignment, root):
            print(f"released {path.relative_to(root)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sidebyside", description="Tools for the Side by Side course.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="report Python, both frameworks and every device they see").set_defaults(run=_doctor)
    clean = commands.add_parser("clean", help="strip outputs and write notebooks in canonical form")
    clean.add_argument("paths", nargs="+", help="notebooks or folders")
    clean.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is not clean")
    clean.set_defaults(run=_clean)
    release = commands.add_parser("release", help="regenerate exercises/ from solutions/ with nbgrader")
    release.add_argument("assignments", nargs="*", help="assignment ids such as 01-learning-curve")
    release.add_argument("--all", action="store_true", help="every assignment in solutions/")
    release.set_defaults(run=_release)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
