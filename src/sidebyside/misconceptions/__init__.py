"""The misconception catalogues: the known mistakes each assignment's tests can recognise.

One catalogue per assignment, ``NN-topic.toml`` in this folder (shipped with the package, so that
the tests find it on a student's machine, on Colab and inside the grading sandbox, where
``solutions/`` is absent or hidden). Each entry, keyed by an id (a Python identifier), has a
``title`` a student understands, an ``explanation`` (why it is wrong, two or three sentences),
the ``frameworks`` it applies to (``torch``, ``tensorflow`` or both: the same idea in both
frameworks is one entry) and the lesson ``section`` that teaches it.

A test names a misconception by the answer's *behaviour* (see :class:`sidebyside.checks.Mistakes`);
the message it fails with carries a line ``Looks like mistake [id]: title`` that
``sidebyside grade`` reads back into the class's misconception report.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..course import colab_url, under_grading

FOLDER = Path(__file__).resolve().parent
#: The line that names a diagnosis in a test's message; :func:`found_in` reads it back.
MARKER = "Looks like mistake"
#: What a diagnosing test says when the answer's behaviour matches no known mistake.
NO_MATCH = "No known mistake of this assignment matches what this answer does: read the expected and got above."
_FOUND = re.compile(re.escape(MARKER) + r" \[([A-Za-z_][A-Za-z0-9_]*)\]")
FRAMEWORKS = ("torch", "tensorflow")


@dataclass(frozen=True)
class Misconception:
    assignment: str
    id: str
    title: str
    explanation: str
    frameworks: tuple[str, ...]
    lesson: str  # NN-topic: lessons/NN-topic.ipynb ("" for an instructor's own assignment without one)
    section: str  # a heading of that lesson, as written (without the #s)

    @property
    def lesson_path(self) -> str:
        return f"lessons/{self.lesson}.ipynb"

    @property
    def anchor(self) -> str:
        """The heading's id as JupyterLab writes it: its text, spaces turned into dashes."""
        text = re.sub(r"[`*_]", "", self.section).strip()
        return text.replace(" ", "-")

    @property
    def colab_link(self) -> str:
        return colab_url(self.lesson_path)

    def lab_link(self, from_folder: Path | None = None) -> str | None:
        """The lesson's path relative to ``from_folder`` (the notebook's folder: a kernel's working
        folder in JupyterLab), with the section's anchor; None when the lesson is not on this machine."""
        here = Path(from_folder or Path.cwd()).resolve()
        lesson = lesson_file(self.lesson, here) if self.lesson else None
        if lesson is None:
            return None
        # "#heading=": JupyterLab 4.5+ finds it in the notebook's model, so it also scrolls to a
        # heading whose cell is not rendered yet (a plain "#id" only finds headings on screen)
        return f"{Path(os.path.relpath(lesson, here)).as_posix()}#heading={self.anchor}"

    def text(self) -> str:
        """The plain-text diagnosis a test's message ends with."""
        said = f"{MARKER} [{self.id}]: {self.title}.\n{self.explanation.strip()}"
        if self.lesson:
            said += f"\nThe lesson explains it: {self.lesson_path}, section \"{self.section}\" (on Colab: {self.colab_link})"
        return said

    def markdown(self, from_folder: Path | None = None) -> str:
        """The same, for a notebook's output: title, explanation and the lesson's links."""
        said = f"**{MARKER} `{self.id}`: {self.title}.** {self.explanation.strip()}"
        if self.lesson:
            # under nbgrader the text goes into feedback, read away from this folder: no local link
            lab = None if under_grading() else self.lab_link(from_folder)
            links = [f"[open it here]({lab})"] if lab else []
            links.append(f"[open it on Colab]({self.colab_link})")
            said += f"\n\nThe lesson explains it in *{self.lesson}*, section **{self.section}**: {' or '.join(links)}."
        return said


def lesson_file(lesson: str, near: Path) -> Path | None:
    """``lessons/NN-topic.ipynb`` of the course ``near`` is in (the nearest folder at or above it
    with the lesson: a course copied anywhere keeps its links), else of the checkout this package
    is installed from; None when neither has it (Colab, a hub's home folder)."""
    for folder in (near, *near.parents, FOLDER.parents[2]):
        path = folder / "lessons" / f"{lesson}.ipynb"
        if path.is_file():
            return path
    return None


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: pip vendors the same parser
        from pip._vendor import tomli as tomllib
    return tomllib


def assignments() -> list[str]:
    """The assignments that have a catalogue."""
    return sorted(p.stem for p in FOLDER.glob("*.toml"))


def catalogue_file(assignment: str, beside: Path | None = None) -> Path | None:
    """The course's catalogue of ``assignment`` (in this folder), else an assignment's own
    ``misconceptions.toml`` released beside its notebook (``beside``: the notebook's folder, a
    kernel's working folder): an instructor's own assignment can name its mistakes too."""
    for path in (FOLDER / f"{assignment}.toml", Path(beside or Path.cwd()) / "misconceptions.toml"):
        if path.is_file():
            return path
    return None


def catalogue(assignment: str, beside: Path | None = None) -> dict[str, Misconception]:
    """The catalogue of ``assignment`` (``NN-topic``), by id; raises with a clear message when
    it is missing or malformed (a course author's mistake, found by the tests)."""
    path = catalogue_file(assignment, beside)
    if path is None:
        raise FileNotFoundError(f"no misconception catalogue for {assignment}: expected {FOLDER / f'{assignment}.toml'} or misconceptions.toml beside the notebook")
    return _read(assignment, path)


@lru_cache(maxsize=None)
def _read(assignment: str, path: Path) -> dict[str, Misconception]:
    data = _toml().loads(path.read_text(encoding="utf-8"))
    entries = {}
    for key, entry in data.items():
        if not isinstance(entry, dict):
            continue
        missing = {"title", "explanation", "frameworks"} - set(entry)
        if missing or not key.isidentifier():
            raise ValueError(f"{path.name}: entry [{key}] must be an identifier with {sorted(missing)} set")
        frameworks = tuple(entry["frameworks"])
        if set(frameworks) - set(FRAMEWORKS):  # none: plain Python (an instructor's own assignment)
            raise ValueError(f"{path.name}: [{key}] frameworks must be among {FRAMEWORKS}, got {frameworks}")
        if bool(entry.get("lesson")) != bool(entry.get("section")):
            raise ValueError(f"{path.name}: [{key}] names a lesson and its section, or neither")
        entries[key] = Misconception(assignment, key, entry["title"].rstrip("."), entry["explanation"], frameworks, entry.get("lesson", ""), entry.get("section", ""))
    return entries


def found_in(text: str) -> list[str]:
    """The ids of the diagnoses a test's message (or a cell's output) names, in order, once each."""
    return list(dict.fromkeys(_FOUND.findall(text or "")))


def diagnosis_part(message: str) -> str:
    """The diagnosis at the end of a test's message (from the first ``Looks like mistake`` or the
    no-match line), without the expected and got before it; empty when it has none."""
    starts = [i for i in (message.find(MARKER), message.find(NO_MATCH)) if i >= 0]
    return message[min(starts):].strip() if starts else ""


# --- In the tests: naming the mistake an answer's behaviour shows ----------------------------


class Mistakes:
    """The known mistakes of one assignment, for its tests' messages.

    Built once in a read-only cell (``mistakes = checks.Mistakes("03-visualization")``, from the
    catalogue ``sidebyside/misconceptions/03-visualization.toml``), then used in an assertion's
    message, which Python evaluates only when the assertion fails::

        assert steps == wanted, mistakes.explain(
            f"expected steps {wanted}, got {steps}",
            steps_from_zero=steps == list(range(len(wanted))),
        )

    Each keyword names a misconception and says whether the answer *behaves* like it (a bool, or
    a function returning one, called safely). The message gains the matching diagnosis (title,
    explanation, the lesson's section), or says plainly that no known mistake matches; in a
    notebook the diagnosis is also shown with links to the lesson.
    """

    def __init__(self, assignment: str):
        self.assignment = assignment
        try:
            self.known = catalogue(assignment)
            self.missing = ""
        except (OSError, ValueError) as error:  # the tests still run and say what they expected
            self.known, self.missing = {}, f"(no diagnosis: {error})"

    def explain(self, message: str, **behaviours) -> str:
        if self.missing:
            return f"{message}\n{self.missing}"
        unknown = sorted(set(behaviours) - set(self.known))
        if unknown:  # the course author's mistake: say so rather than hide the student's failure
            return f"{message}\n(the test names misconceptions missing from {self.assignment}'s catalogue: {unknown})"
        matched = [name for name, seen in behaviours.items() if _behaves(seen)]
        if not matched:
            return f"{message}\n\n{NO_MATCH}"
        _show_markdown("\n\n".join(self.known[name].markdown() for name in matched))
        return f"{message}\n\n" + "\n\n".join(self.known[name].text() for name in matched)

    def when_it_raises(self, **behaviours) -> _Raising:
        """Around a call of the answer: an error it raises (other than a failed check) becomes a
        failed test whose message names the misconception the error matches; each keyword is a
        function of the error returning True when it matches::

            with mistakes.when_it_raises(image_without_batch=lambda error: "rank 4" in str(error)):
                tf_log_weights_and_image(writer, model, image, 3)
        """
        return _Raising(self, behaviours)


class _Raising:
    def __init__(self, mistakes: Mistakes, behaviours: dict):
        self.mistakes, self.behaviours = mistakes, behaviours

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None or issubclass(kind, AssertionError) or not issubclass(kind, Exception):
            return False
        matches = {name: (lambda test=test: test(value)) for name, test in self.behaviours.items()}
        message = f"expected the answer to run without an error; it raised {kind.__name__}: {value}"
        raise AssertionError(self.mistakes.explain(message, **matches)) from value


def _behaves(seen) -> bool:
    try:
        return bool(seen() if callable(seen) else seen)
    except Exception:  # noqa: BLE001 - a probe that cannot run (or an array's truth) matches nothing
        return False


def _show_markdown(text: str) -> None:
    """Show ``text`` under the running cell, when there is a notebook to show it in."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(text))
    except Exception:  # noqa: BLE001 - the message itself still carries the diagnosis
        pass
