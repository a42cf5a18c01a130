"""A class on JupyterHub, on this machine: ``make hub`` (``sidebyside hub start|stop|status``).

One instructor and the students of ``hub/class.toml`` as Unix users, each one's server running
as that user with the course's virtualenv and kernel; nbgrader's exchange with nbgrader's own
permissions; the instructor's course with its gradebook in PostgreSQL; the formgrader for the
instructor only. Modules, named for what they hold:

- :mod:`.settings`: hub/class.toml resolved into paths and ports (with overrides, for tests);
- :mod:`.users`: the Unix users, their homes (0700) and generated passwords;
- :mod:`.exchange`: nbgrader's exchange folders and their modes;
- :mod:`.class_course`: the instructor's course, each role's nbgrader and Jupyter configuration;
- :mod:`.class_gradebook`: the class's PostgreSQL gradebook, in a cluster of the hub's own;
- :mod:`.postgres`: a PostgreSQL cluster run as files in a folder (``sidebyside gradebook``);
- :mod:`.spawning`: the per-role hook and the secrets that hub/jupyterhub_config.py uses;
- :mod:`.services`: start, restart, stop and report PostgreSQL, the proxy and the hub;
- :mod:`.api`: the hub's REST API as the ``class-admin`` service (stop servers, tokens).
"""
