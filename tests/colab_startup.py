"""IPython start-up file of the Colab profile's kernel (copied into .venv/colab by
tests/colab_profile.py; runs inside that kernel, never in the test process).

What Colab's runtime does before a notebook's first cell, and what the check does instead of
changing this machine:

- ``google.colab`` is imported (Colab's kernel imports it at start-up, so
  ``"google.colab" in sys.modules`` is true from the first cell). Here it is a fake package,
  installed into the profile's site-packages, with none of Colab's APIs.
- ``%pip install ... sidebyside @ git+...`` (each notebook's set-up cell): skipped and reported;
  the course package was installed from the checkout, ``--no-deps``, when the profile was built.
- any other ``%pip`` line: skipped and reported when checking; the profile ran it, as written,
  when it was built (COLAB_PROFILE_MODE=build).
- shell lines (``!...``) that would change the machine (apt, apt-key, add-apt-repository, curl,
  wget, dpkg, sudo, writing under /etc or /usr): skipped and reported. Other shell lines run.

Every skip prints one line starting with ``[colab profile] skipped``.
"""

import google.colab  # noqa: F401  (Colab's kernel has it imported before any cell runs)


def _install_colab_profile_hooks(shell):
    import os
    import re

    mode = os.environ.get("COLAB_PROFILE_MODE", "check")
    real_pip = shell.find_line_magic("pip")
    real_system = shell.system
    machine_changing = re.compile(r"(^|[\s;&|(])(sudo|apt|apt-get|apt-key|add-apt-repository|dpkg|curl|wget)(\s|$)|>\s*/(etc|usr)/|-o\s+/(etc|usr)/")

    def report(line, why):
        print(f"[colab profile] skipped: {line.strip()}  ({why})", flush=True)

    def pip(line):
        if "sidebyside @ git+" in line or "sidebyside@git+" in line:
            report(f"%pip {line}", "the course package is installed from the checkout, --no-deps, when the Colab profile is built")
            return None
        if mode == "build":
            return real_pip(line)
        report(f"%pip {line}", "installed as written into the cached Colab profile when it was built")
        return None

    def system(cmd):
        if machine_changing.search(cmd):
            report(f"!{cmd}", "it would change this machine")
            return None
        return real_system(cmd)

    pip.__doc__ = real_pip.__doc__
    shell.register_magic_function(pip, "line", "pip")
    shell.system = system


_install_colab_profile_hooks(get_ipython())  # noqa: F821  (IPython runs start-up files with get_ipython defined)
del _install_colab_profile_hooks, google
