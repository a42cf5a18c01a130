# Side by Side: two commands.
#   make lab    set everything up (first run only) and open the course in JupyterLab
#   make test   set everything up (first run only) and run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
INSTALLED := $(VENV)/.installed
# nbgrader shells out to alembic: the virtualenv's bin/ must be on PATH, not just its python.
export PATH := $(BIN):$(PATH)
# pytest-xdist workers for `make test`; each notebook kernel needs about 1.5 GB. Tests are
# spread by group (loadscope, scheduled by tests/conftest.py): one group per module, so a module's
# expensive fixtures (one JupyterLab, one hub) are made once, on one worker, and one group per
# assignment in test_assignments and test_grading, whose nbgrader runs are the longest.
WORKERS ?= 2
PYTEST_ARGS ?=

.PHONY: lab test setup test-setup class-setup hub exercises clean-notebooks doctor site

lab: setup
	$(BIN)/sidebyside lab

test: test-setup
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadscope --durations=15 $(PYTEST_ARGS)

# `sidebyside grade` confines student kernels with Debian's bubblewrap, installed when missing and possible.
setup: $(INSTALLED)
	scripts/install-bubblewrap

$(INSTALLED): requirements.txt build-constraints.txt pyproject.toml scripts/install-visdom-assets scripts/install-java
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "Python 3.10 to 3.13 is needed; found: $$($(PYTHON) --version). Set PYTHON=python3.X."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$$(grep -E '^pip==' requirements.txt)"
	$(BIN)/python -m pip install --build-constraint build-constraints.txt -r requirements.txt -e .
	# Visdom's web page assets from the npm registry, so its server runs offline.
	scripts/install-visdom-assets $(BIN)/python
	# TorchServe's Java front end (lesson 06): Debian's headless Java runtime, when missing and possible.
	scripts/install-java
	# KServe, lesson 06's server for TensorFlow Serving's REST protocol, in its own environment
	# (.venv/kserve): no kserve release installs beside the course's psutil and protobuf pins.
	$(BIN)/sidebyside serving install-kserve
	touch $@

# A class on this machine: JupyterHub on loopback, one instructor and students as Unix users,
# nbgrader's exchange, the gradebook in PostgreSQL (README: "A class on JupyterHub"; hub/class.toml).
hub: class-setup
	$(BIN)/sidebyside hub start

# PostgreSQL (Debian's) and JupyterHub's proxy (configurable-http-proxy, npm), when missing and possible.
class-setup: setup
	scripts/install-postgresql
	scripts/install-hub-proxy

# Tests also need a browser (Debian's Chromium, installed when missing and possible), the class
# parts, and the Colab profile: Colab's package versions (requirements-colab.txt) built once into
# .venv/colab, reused while unchanged, with the time it took printed (tests/test_colab.py).
test-setup: class-setup
	scripts/install-chromium
	scripts/install-colab-profile $(BIN)/python

# Regenerate exercises/ from solutions/ (never edit exercises/ by hand).
exercises: setup
	$(BIN)/sidebyside release --all

# The course as a static website in _site/ (Sphinx, myst-nb, sphinx-book-theme; CONTRIBUTING.md says
# why). Lessons come from the cache of executions that `make test`'s browser run fills
# (.site-cache/); one with no execution for its current code is executed headless first. --course:
# this folder, without reading nbgrader_config.py to find it (that imports nbgrader: seconds).
site: setup
	$(BIN)/sidebyside site --course .

# Strip outputs and write every notebook in canonical form.
clean-notebooks: setup
	$(BIN)/sidebyside clean lessons solutions exercises

doctor: setup
	$(BIN)/sidebyside doctor
