"""The class hub's settings: hub/class.toml, resolved into paths and ports, with overrides.

``hub/class.toml`` is the one source of the class's names and ports. :func:`load` reads it
(tomllib) and lets a caller override any field: ``make hub HUB_IP=0.0.0.0``, or the tests, which
start the same hub with test users, a temporary exchange and their own ports. ``start`` writes
the resolved settings to ``STATE_DIR/settings.json``; ``hub/jupyterhub_config.py`` reads them
back from there (:func:`from_environment`), so the hub, the CLI and the tests share one value.

Ports derived from the hub's public port (class.toml names only that one): the proxy's REST
API listens on ``port + 1`` and the hub itself on ``port + 2``, both on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

SETTINGS_ENV = "SIDEBYSIDE_HUB_SETTINGS"


def course_checkout() -> Path:
    """The course checkout this package is installed from (an editable install: CHECKOUT/src/sidebyside/)."""
    import sidebyside

    return Path(sidebyside.__file__).resolve().parents[2]


@dataclass(frozen=True)
class HubSettings:
    course_id: str
    ip: str
    port: int
    exchange_root: Path
    gradebook_database: str
    gradebook_role: str
    gradebook_host: str
    gradebook_port: int
    instructor: str
    students: tuple[str, ...]
    #: The hub's own state (root-only secrets, logs, PostgreSQL's data, the per-role Jupyter
    #: configuration the users read): ``.hub/`` in the course checkout.
    state_dir: Path
    #: The course checkout: solutions/, nbgrader_config.py, and the virtualenv in .venv/.
    checkout: Path
    #: The virtualenv whose jupyterhub-singleuser, kernel and nbgrader every user runs.
    venv: Path
    #: Where the class's Unix users get their homes.
    home_root: Path = Path("/home")
    #: The virtualenv the users run when it is not ``venv`` itself (:mod:`.environment`), set by ``start``.
    users_venv: Path | None = None

    @property
    def class_venv(self) -> Path:
        """What every user's server, kernel and nbgrader run: ``venv``, or its view for the users."""
        return self.users_venv or self.venv

    @property
    def users(self) -> tuple[str, ...]:
        return (self.instructor, *self.students)

    @property
    def proxy_api_port(self) -> int:
        return self.port + 1

    @property
    def hub_port(self) -> int:
        return self.port + 2

    @property
    def local_ip(self) -> str:
        """Where this machine reaches the hub (0.0.0.0 and :: listen everywhere, loopback included)."""
        return "127.0.0.1" if self.ip in ("0.0.0.0", "", "::") else self.ip

    @property
    def url(self) -> str:
        host = f"[{self.local_ip}]" if ":" in self.local_ip else self.local_ip
        return f"http://{host}:{self.port}"

    @property
    def proxy_command(self) -> Path:
        return self.venv / "hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"

    @property
    def postgres_dir(self) -> Path:
        return self.state_dir / "postgres"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    def role_config_dir(self, role: str) -> Path:
        """Jupyter configuration of one role ("instructor" or "student"), on the users' JUPYTER_CONFIG_PATH."""
        return self.state_dir / "jupyter" / role

    def home(self, user: str) -> Path:
        return self.home_root / user

    @property
    def course_dir(self) -> Path:
        """The instructor's nbgrader course directory (owned by the instructor, 0700)."""
        return self.home(self.instructor) / self.course_id

    def to_json(self) -> str:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return json.dumps({k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v) for k, v in values.items()}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> HubSettings:
        values = json.loads(text)
        return cls(**{f.name: _coerce(f.type, values[f.name]) for f in dataclasses.fields(cls) if f.name in values})

    @property
    def settings_file(self) -> Path:
        return self.state_dir / "settings.json"


def _coerce(kind: str, value):
    if value is None:
        return None
    if kind.startswith("Path"):
        return Path(value)
    if kind.startswith("tuple"):
        return tuple(value)
    return value


def load(class_toml: Path | None = None, **overrides) -> HubSettings:
    """hub/class.toml's values, resolved, with ``overrides`` (any :class:`HubSettings` field)."""
    checkout = Path(overrides.pop("checkout", None) or course_checkout())
    with open(class_toml or checkout / "hub" / "class.toml", "rb") as handle:
        toml = tomllib.load(handle)
    values = dict(
        course_id=toml["course"]["id"],
        ip=toml["hub"]["ip"],
        port=int(toml["hub"]["port"]),
        exchange_root=Path(toml["exchange"]["root"]),
        gradebook_database=toml["gradebook"]["database"],
        gradebook_role=toml["gradebook"]["role"],
        gradebook_host=toml["gradebook"]["host"],
        gradebook_port=int(toml["gradebook"]["port"]),
        instructor=toml["users"]["instructor"],
        students=tuple(toml["users"]["students"]),
        state_dir=checkout / ".hub",
        checkout=checkout,
        venv=Path(sys.prefix),
    )
    unknown = set(overrides) - set(values) - {"home_root", "users_venv"}
    if unknown:
        raise TypeError(f"unknown hub settings: {sorted(unknown)}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    for name in ("exchange_root", "state_dir", "venv", "home_root", "users_venv"):
        if values.get(name) is not None:
            values[name] = Path(values[name]).absolute()
    values["students"] = tuple(values["students"])
    return HubSettings(**values)


def from_environment() -> HubSettings:
    """The settings ``start`` wrote for this hub (``$SIDEBYSIDE_HUB_SETTINGS``), else class.toml's."""
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return HubSettings.from_json(Path(path).read_text())
    return load()
