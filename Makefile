# Creative Hub. `make run` and `make test` install what is missing first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint format schema clean lock migrations coverage

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-install only when the lock file changed since the last install. uv installs the lock file in
# parallel (about 8 s where pip took about a minute on a fresh clone).
$(STAMP): requirements.lock pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) main.py dev

# Four pytest-xdist workers on two cores, a module at a time each: the stack tests mostly wait on
# the service (a run uses about 1.9 cores). `make test TEST_WORKERS=0` runs in one process. -rs:
# each skipped test says why (no PostgreSQL, no Chromium, ...).
TEST_WORKERS ?= 4
test: install
	$(PY) -m pytest -q -rs -n $(TEST_WORKERS) --dist loadscope

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

# The suite under coverage (by line; the xdist workers and the service's subprocesses included:
# [tool.coverage.run] patch = subprocess); prints the least covered files and the total.
coverage: install
	$(PY) -m coverage erase
	$(PY) -m coverage run -m pytest -q -n $(TEST_WORKERS) --dist loadscope
	$(PY) -m coverage combine -q
	$(PY) -m coverage report --skip-covered --sort=cover | tail -n 25

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

schema: install
	$(PY) main.py export-schema > schema.graphql

# Refresh the lock file after changing dependencies in pyproject.toml (needs uv: pip install uv).
lock: | $(PY)
	$(PY) -m pip install --quiet uv==0.13.9
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache

# After changing a model: write the next migration into models/migrations/.
migrations: install
	$(VENV)/bin/tortoise -c services.db.TORTOISE_ORM makemigrations
