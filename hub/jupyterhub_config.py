"""JupyterHub for one class on this machine: `make hub` (sidebyside hub start) runs it.

Names, ports and paths come from hub/class.toml, resolved by `start` into .hub/settings.json
($SIDEBYSIDE_HUB_SETTINGS): start the hub with that command, not `jupyterhub` by hand. The
package that prepares what this file uses (users, exchange, course, gradebook, the proxy) is
src/sidebyside/instructor/hub/.
"""

from sidebyside.frameworks import TF_LOG_LEVEL
from sidebyside.instructor.hub.settings import from_environment
from sidebyside.instructor.hub.spawning import pre_spawn_hook, read_secret

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file
hub = from_environment()
state = hub.state_dir

# --- Where it listens: the proxy on class.toml's ip:port (loopback by default), the hub on loopback.
c.JupyterHub.bind_url = f"http://{hub.ip}:{hub.port}/"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = hub.hub_port
# The proxy is started by `start`, not by the hub, so a hub restart leaves it (and every open
# notebook's connection) alone.
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{hub.proxy_api_port}"
c.ConfigurableHTTPProxy.auth_token = read_secret(state / "proxy_token")

# --- The hub's own state, root-only, in .hub/.
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "hub.pid")

# A restart of the hub must not stop users' servers: a class keeps working through it.
c.JupyterHub.cleanup_servers = False

# --- Who logs in: the class's Unix users, with their Unix passwords (PAM).
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(hub.users)
c.PAMAuthenticator.open_sessions = False

# `stop` and the tests manage servers and tokens through the hub's REST API with this service's
# token (root-only file). It holds no user's files: servers run as their users.
c.JupyterHub.services = [{"name": "class-admin", "api_token": read_secret(state / "admin_token")}]
c.JupyterHub.load_roles = [
    {
        "name": "class-admin",
        "description": "Start and stop the class's servers, issue tokens (sidebyside hub).",
        "scopes": ["list:users", "read:users", "admin:servers", "tokens"],
        "services": ["class-admin"],
    }
]

# --- Each user's server: as that Unix user, in their home (0700), with the course's virtualenv.
c.JupyterHub.spawner_class = "localprocess"
# class_venv: the course's virtualenv, or its view for users who cannot open its interpreter
# (sidebyside/instructor/hub/environment.py): the same packages either way.
c.Spawner.cmd = [str(hub.class_venv / "bin" / "jupyterhub-singleuser")]
c.Spawner.ip = "127.0.0.1"
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {
    # nbgrader runs alembic from PATH; the kernel is the virtualenv's python3 (ipykernel's
    # "python" kernel argv resolves to the server's interpreter).
    "PATH": f"{hub.class_venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "TF_CPP_MIN_LOG_LEVEL": TF_LOG_LEVEL,
}
# The role's Jupyter configuration (nbgrader settings, formgrader on or off) is put first on
# JUPYTER_CONFIG_PATH per user by the hook.
c.Spawner.pre_spawn_hook = pre_spawn_hook(hub)
# Two shared cores and a course that imports PyTorch and TensorFlow: be patient.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
