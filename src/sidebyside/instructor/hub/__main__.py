"""``sidebyside hub start|stop|status|restart`` (``make hub`` runs ``start``).

``restart`` restarts JupyterHub alone (after a change to hub/jupyterhub_config.py, say): users'
servers, their kernels and the proxy keep running.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import services, users
from .class_gradebook import GradebookMissing
from .settings import load


def main(argv: list[str] | None = None, prog: str = "python -m sidebyside.instructor.hub") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="A class on JupyterHub on this machine (hub/class.toml).")
    parser.add_argument("command", choices=["start", "stop", "status", "restart"])
    parser.add_argument("--ip", default=os.environ.get("HUB_IP"), help="where the hub listens (default: class.toml's, loopback; env HUB_IP)")
    parser.add_argument("--port", type=int, default=os.environ.get("HUB_PORT"), help="the hub's port (default: class.toml's; env HUB_PORT)")
    args = parser.parse_args(argv)
    settings = load(ip=args.ip, port=int(args.port) if args.port else None)
    try:
        if args.command == "start":
            print(f"Starting the class hub ({settings.course_id}) on {settings.ip}:{settings.port} ...", flush=True)
            started = services.start(settings)
            if started.already_running:
                print(f"The class hub already runs at {started.url}/ (`sidebyside hub status`).")
                return 0
            print(f"The class hub is up at {started.url}/ (hub ready {started.hub_seconds:.1f} s after launch; {started.total_seconds:.1f} s in all).")
            print(f"  instructor: {settings.instructor} (the formgrader: Nbgrader > Formgrader); students: {', '.join(settings.students)}")
            print(f"  course: {settings.course_dir} (source/ from solutions/{': copied ' + ', '.join(started.copied) if started.copied else ''})")
            settings = started.settings or settings
            print(f"  grade (in the instructor's terminal): sidebyside grade --course {settings.course_dir} NN-topic")
            print(f"  exchange: {settings.exchange_root}; logs: {settings.logs_dir}; stop: sidebyside hub stop")
            if started.created:
                print(f"New users and their passwords (shown once; kept root-only in {settings.state_dir / 'passwords'}):")
                for name, password in started.created.items():
                    print(f"  {name:<24} {password}")
            else:
                print(f"  logins: the users' Unix passwords (those made here are in {settings.state_dir / 'passwords'}, root-only)")
            if settings.ip not in ("127.0.0.1", "::1", "localhost"):
                print(f"WARNING: listening on {settings.ip}: anyone who can reach this machine sees the login page (plain HTTP).")
        elif args.command == "stop":
            users.require_root("Stopping the class hub")
            for line in services.stop(services.saved_settings(settings)):
                print(line)
        elif args.command == "restart":
            users.require_root("Restarting the class hub")
            saved = services.saved_settings(settings)
            if services.running_process(saved, "proxy") is None:
                raise services.HubError("The class hub is not running: start it with `make hub`.")
            seconds = services.restart_hub(saved)
            print(f"JupyterHub restarted in {seconds:.1f} s at {saved.url}/; users' servers kept running.")
        else:
            running, lines = services.status(services.saved_settings(settings))
            print("\n".join(lines))
            return 0 if running else 3
    except (services.HubError, users.NeedsRoot, GradebookMissing) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
