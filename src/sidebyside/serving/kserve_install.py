"""KServe in its own environment (``.venv/kserve``), beside the course's pins, and the
``sidebyside serving install-kserve | check`` command.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..servers import ServerError
from .tf_serving_server import KSERVE_VERSION, kserve_prefix, kserve_site, tf_serving_backend
from .torchserve_server import JAVA_HINT, java_runtime


# --- Installing KServe ----------------------------------------------------------------------------


def _course_pins() -> list[str]:
    requirements = Path(__file__).resolve().parents[3] / "requirements.txt"  # CHECKOUT/src/sidebyside/serving/
    if not requirements.exists():
        return []
    pins = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if re.match(r"^[A-Za-z0-9_.\-\[\]]+==", line) and not line.lower().startswith(("psutil", "protobuf", "pip==")):
            pins.append(re.sub(r"\[[^\]]*\]", "", line))  # pip refuses extras in a constraints file
    return pins


def install_kserve(prefix=None, *, log=print) -> Path:
    """Install KServe into its own environment (``.venv/kserve``), which sees the course's
    packages but keeps its own ``psutil`` and ``protobuf``. Idempotent. Returns its site-packages."""
    prefix = Path(prefix) if prefix is not None else kserve_prefix()
    site = kserve_site() if prefix == kserve_prefix() else None
    if site is not None:
        version_file = next(site.glob(f"kserve-{KSERVE_VERSION}.dist-info"), None)
        if version_file is not None:
            return site
    log(f"Installing KServe {KSERVE_VERSION} into {prefix} (its own psutil and protobuf; everything else from the course's environment)")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    sites = sorted(prefix.glob("lib/python*/site-packages")) or sorted(prefix.glob("Lib/site-packages"))
    if not sites:
        raise ServerError(f"the new environment {prefix} has no site-packages folder")
    site = sites[0]
    import sysconfig

    (site / "zz-sidebyside-course.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write("\n".join(_course_pins()) + "\n")
    try:
        subprocess.run([sys.executable, "-m", "pip", "--python", str(prefix / "bin" / "python"), "install", "--quiet",
                        "--disable-pip-version-check", "-c", constraints.name, f"kserve=={KSERVE_VERSION}"], check=True)
    finally:
        os.unlink(constraints.name)
    return site


def main(argv: list[str] | None = None, prog: str = "python -m sidebyside.serving") -> int:
    """``sidebyside serving install-kserve | check``: used by the set-up."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("command", choices=["install-kserve", "check"])
    args = parser.parse_args(argv)
    if args.command == "check":
        java = java_runtime()
        print("Java runtime (TorchServe):", f"{java[1]} at {java[0]}" if java else "MISSING. " + JAVA_HINT)
        backend, why = tf_serving_backend()
        print("TensorFlow Serving REST server:", backend or "MISSING", "-", why)
        return 0 if java and backend else 1
    started = time.monotonic()
    try:
        site = install_kserve()
    except (ServerError, OSError, subprocess.SubprocessError) as error:
        print(f"WARNING: could not install KServe {KSERVE_VERSION}: {error}\n  Lesson 06 will skip its TensorFlow Serving "
              "REST server (and say why). Retry online: .venv/bin/sidebyside serving install-kserve", file=sys.stderr)
        return 1
    print(f"KServe {KSERVE_VERSION}: ready in {site} ({time.monotonic() - started:.0f} s).")
    return 0
