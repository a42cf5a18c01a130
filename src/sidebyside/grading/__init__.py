"""``sidebyside grade``: grade a whole class with nbgrader, in parallel, isolated, not fooled.

- :mod:`.precheck`: check each submission first (repair what can be repaired, flag the rest);
- :mod:`.sandbox`: grade one student in a private scratch course, in its own process, with a
  wall-clock budget, a memory cap, no network and no view of other files (:mod:`.jail`);
- :mod:`.warm_start`: nbgrader processes and kernels forked from servers that imported
  nbgrader and the frameworks once (about 7 CPU-seconds saved per student);
- :mod:`.execute` and :mod:`.kernel_guard`: nbgrader's Execute preprocessor with a guard
  against submissions that tamper with the grading (patched builtins or checks, rewritten
  cells, hidden tracebacks, a killed kernel);
- :mod:`.run`: the whole class, in parallel, resumable, merged into the course's gradebook;
- :mod:`.report`: the report, the grades CSV and the feedback (hidden tests removed).
"""

from __future__ import annotations


def grade(options):
    """Grade one assignment for every student; see :class:`sidebyside.grading.run.Options`."""
    from .run import grade as _grade

    return _grade(options)
