"""The instructor's wing: what runs a class, never imported by the lessons.

Students import the lesson side (``sidebyside.devices``, ``data``, ``parallel``, ``serving``,
``widgets``, ...), on their machine or on Colab. Everything here imports the lesson side, never
the other way round (tests/test_package.py checks it):

- :mod:`.cli`: the ``sidebyside`` command (``lab``, ``doctor``, ``clean``, ``release``, ``grade``,
  ``hub``, ``gradebook``, ``serving``, ``servers``);
- :mod:`.nbgrader_course`: nbgrader driven from Python: releasing exercises, scratch courses;
- :mod:`.grading`: ``sidebyside grade``, a whole class graded in parallel, confined, not fooled;
- :mod:`.misconception_report`: the mistakes the tests named, read back for the class's report
  and the feedback (a hidden test's failure shows only its diagnosis);
- :mod:`.hub`: the class on JupyterHub on this machine, with its PostgreSQL gradebook.
"""
