"""nbgrader's exchange for the class, with the permissions nbgrader itself creates.

The modes are those of nbgrader 0.9.6's default exchange (nbgrader/exchange/default/):

- the root: ``ugo+rwx`` (release_assignment.py, ``ensure_root``; nbgrader checks only the 0o777
  bits, so the sticky bit we add is kept). Sticky: a student may create entries there but can
  neither rename nor remove the course's folder, which belongs to the instructor.
- ``ROOT/COURSE`` and ``ROOT/COURSE/outbound``: 0755, the instructor's (``init_dest``): everyone
  reads released assignments, only the instructor writes.
- ``ROOT/COURSE/inbound``: 2733 (``init_dest``): students may create their submission there but
  cannot list the folder, so they cannot find, let alone read, another student's submission
  (each is named ``student+assignment+timestamp+random``: submit.py's ``add_random_string``).
- ``ROOT/COURSE/feedback``: 0711 (release_feedback.py): traversable, not listable; a student
  fetches only the feedback whose name is the hash of their own submission.

The course's folders are created here, owned by the instructor, before any student can log in:
nbgrader refuses folders the instructor does not own (``ensure_directory``), and a student who
created ``ROOT/COURSE`` first would own the class's exchange.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

ROOT_MODE = 0o1777
COURSE_MODE = 0o755
OUTBOUND_MODE = 0o755
INBOUND_MODE = 0o2733
FEEDBACK_MODE = 0o711


def course_folders(root: Path, course_id: str) -> dict[Path, int]:
    course = root / course_id
    return {course: COURSE_MODE, course / "outbound": OUTBOUND_MODE, course / "inbound": INBOUND_MODE, course / "feedback": FEEDBACK_MODE}


def prepare(root: Path, course_id: str, instructor: str) -> None:
    """Create (or repair) the exchange root and the course's folders; idempotent."""
    root = Path(root)
    for parent in reversed(root.parents):
        if not parent.exists():
            parent.mkdir(mode=0o755)
            os.chmod(parent, 0o755)
    root.mkdir(exist_ok=True)
    os.chown(root, 0, 0)
    os.chmod(root, ROOT_MODE)
    owner = pwd.getpwnam(instructor)
    for folder, mode in course_folders(root, course_id).items():
        if folder.is_symlink():
            raise RuntimeError(f"{folder} is a symbolic link: remove it (someone other than the instructor made it)")
        folder.mkdir(exist_ok=True)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        os.chmod(folder, mode)


def describe(root: Path, course_id: str) -> list[str]:
    """One line per folder: its mode and owner (for ``status`` and the tests' messages)."""
    lines = []
    for folder in (Path(root), *course_folders(Path(root), course_id)):
        try:
            info = folder.lstat()
            lines.append(f"{stat.filemode(info.st_mode)} {pwd.getpwuid(info.st_uid).pw_name:<16} {folder}")
        except (OSError, KeyError) as error:
            lines.append(f"missing: {folder} ({error})")
    return lines
