# Airflow: the DAGs in dags/, their tests, a local standalone Airflow, and the end-to-end run of
# pinpipe_daily through DockerOperator on podman's Docker-compatible socket.
# See docs/airflow.md, "Running with Airflow".

AIRFLOW_VENV := $(PINPIPE_CACHE_DIR)/venv-airflow
AIRFLOW_PY := $(AIRFLOW_VENV)/bin/python
AIRFLOW_BIN := $(AIRFLOW_VENV)/bin/airflow
# Airflow's home for `make airflow` (metadata DB, logs, generated config); outside the checkout.
AIRFLOW_DEV_HOME ?= $(PINPIPE_CACHE_DIR)/airflow
AIRFLOW_PORT ?= 8080
# The podman API socket DockerOperator talks to.
PODMAN_SOCKET ?= $(PINPIPE_CACHE_DIR)/podman/podman.sock
# The browser of `make test-airflow-ui`: Debian's Chromium, driven by playwright-core.
CHROMIUM ?= /usr/bin/chromium
# Where the browser test leaves its screenshots and Airflow's log.
AIRFLOW_UI_OUT ?= out/airflow-ui

EXTRA_TESTS += test-dags test-airflow test-airflow-ui

.PHONY: airflow-deps test-dags test-airflow test-airflow-ui chromium airflow podman-service

airflow-deps: $(AIRFLOW_VENV)/.installed ## Install Airflow 3 and the providers into a virtualenv (pinned by dags/constraints.txt)
$(AIRFLOW_VENV)/.installed: dags/requirements.txt dags/constraints.txt
	python3 -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check -r dags/requirements.txt -c dags/constraints.txt
	@touch $@

test-dags: airflow-deps ## pytest for the DAGs: imports, task graph, schedule, templates, both launchers
	home=$$(mktemp -d) && trap 'rm -rf "$$home"' EXIT && cd dags && \
	  AIRFLOW_HOME=$$home AIRFLOW__CORE__LOAD_EXAMPLES=False $(AIRFLOW_PY) -m pytest -q -p no:cacheprovider \
	    -W "ignore:GitWildMatchPattern:DeprecationWarning" tests

podman-service: image-tools ## Serve podman's Docker-compatible API on $(PODMAN_SOCKET) (background)
	@bash dags/scripts/podman-service.sh start "$(PODMAN_SOCKET)"

test-airflow: airflow-deps build images ## airflow dags test pinpipe_daily on the local stack, jobs in podman via DockerOperator
	$(STACK) up s3 cassandra postgres trino
	$(WITH_STACK_ENV) PODMAN_SOCKET="$(PODMAN_SOCKET)" AIRFLOW_VENV="$(AIRFLOW_VENV)" \
	  PINPIPE_IMAGE_VERSION=$(IMAGE_VERSION) bash dags/scripts/e2e.sh

chromium: ## Install Debian's Chromium for the browser test when missing
	@[[ -x $(CHROMIUM) ]] || { echo "chromium: apt-get install chromium"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq -o DPkg::Lock::Timeout=600 && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 chromium >/dev/null; }

# UPDATE_DOCS=1 also copies the screenshots of the grid and of the trigger dialog with its params
# form to docs/images/ (airflow-grid.png, airflow-trigger.png), the manual's pictures.
AIRFLOW_DOCS_IMAGES := airflow-grid.png airflow-trigger.png
test-airflow-ui: airflow-deps build images chromium ## The Airflow UI in headless Chromium: the trigger form and its params, a day's success in the grid, a task log, the backfill form
	$(STACK) up s3 cassandra postgres trino
	$(WITH_STACK_ENV) PODMAN_SOCKET="$(PODMAN_SOCKET)" AIRFLOW_VENV="$(AIRFLOW_VENV)" \
	  PINPIPE_IMAGE_VERSION=$(IMAGE_VERSION) PINPIPE_CHROMIUM="$(CHROMIUM)" PINPIPE_UI_ARTIFACTS="$(CURDIR)/$(AIRFLOW_UI_OUT)" \
	  bash dags/scripts/ui-test.sh
	@$(call docs_images,$(AIRFLOW_UI_OUT),$(AIRFLOW_DOCS_IMAGES))

airflow: airflow-deps build ## Airflow standalone with the pinpipe DAGs, UI on 127.0.0.1:8080, no scheduled runs (Ctrl-C stops it)
	$(STACK) up s3 cassandra postgres trino
	$(WITH_STACK_ENV) PODMAN_SOCKET="$(PODMAN_SOCKET)" AIRFLOW_VENV="$(AIRFLOW_VENV)" AIRFLOW_HOME="$(AIRFLOW_DEV_HOME)" \
	  AIRFLOW_PORT=$(AIRFLOW_PORT) PINPIPE_IMAGE_VERSION=$(IMAGE_VERSION) bash dags/scripts/airflow-standalone.sh
