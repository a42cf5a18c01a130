"""``sidebyside grade``: grade a whole class with nbgrader, in parallel, confined, not fooled.

- :mod:`.run`: the whole class, in parallel, resumable, merged into the course's gradebook;
- :mod:`.precheck`: check each submission first (repair what can be repaired, flag the rest);
- :mod:`.student`: grade one student in a private scratch course, within limits;
- :mod:`.sandbox`: one bubblewrap sandbox per worker, where that worker's kernels run (no
  network but a private loopback, instructor files and other students hidden, no capabilities);
- :mod:`.limits`: memory and process caps by cgroups (polling only as the last fallback);
- :mod:`.warm_start`: kernels and nbgrader processes forked from servers that imported the
  frameworks or nbgrader once;
- :mod:`.execute` and :mod:`.kernel_guard`: nbgrader's Execute preprocessor with a guard
  against submissions that tamper with the grading (patched builtins or checks, rewritten
  cells, hidden tracebacks, a killed kernel);
- :mod:`.results`: the model all of them share (findings, outcomes, results, statuses);
- :mod:`.report`: the report, the grades CSV and the feedback (hidden tests removed);
- :mod:`.gradebook_writes`: one writer at a time into the course's gradebook (SQLite or
  PostgreSQL), waiting out a restarting server.
"""
