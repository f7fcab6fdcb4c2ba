# The Helm chart (charts/pinpipe): offline checks that `make test` runs through EXTRA_TESTS.
#   make helm        build the pinned helm from the Go module proxy (cached)
#   make test-helm   lint, render with the default and the production-like values, validate the
#                    manifests against Kubernetes' schemas, and check that bad values are refused

HELM_VERSION := v3.21.4
# The Kubernetes version the manifests are rendered for and validated against (kubernetes-validate
# carries its schemas; keep it a version that clusters still run).
HELM_KUBE_VERSION := 1.33.0
HELM := $(PINPIPE_CACHE_DIR)/bin/helm-$(HELM_VERSION)
HELM_GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
CHART := charts/pinpipe
CHART_VALUES_PROD := charts/values-production.yaml
CHART_VALUES_LOCAL := charts/values-local.yaml
CHART_OUT := out/chart
# What helm's own Makefile stamps in: `helm version` and the Kubernetes version assumed by default.
HELM_LDFLAGS := -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$(word 1,$(subst ., ,$(HELM_KUBE_VERSION))) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(word 2,$(subst ., ,$(HELM_KUBE_VERSION))) \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$(word 1,$(subst ., ,$(HELM_KUBE_VERSION))) \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(word 2,$(subst ., ,$(HELM_KUBE_VERSION)))

.PHONY: helm test-helm

helm: $(HELM) ## Build the pinned helm from the Go module proxy (cached)

$(HELM):
	@test -x "$(HELM_GO)" || { echo "helm: Go toolchain not found at $(HELM_GO); set HELM_GO" >&2; exit 1; }
	@echo "helm: building $(HELM_VERSION) from the Go module proxy (first time only; minutes on 2 cores)"
	@mkdir -p $(PINPIPE_CACHE_DIR)/bin $(PINPIPE_CACHE_DIR)/logs
	env GOPATH=$(PINPIPE_CACHE_DIR)/go GOCACHE=$(PINPIPE_CACHE_DIR)/go-build GOFLAGS=-modcacherw \
	  GOBIN=$(PINPIPE_CACHE_DIR)/go/bin-helm CGO_ENABLED=0 GOTOOLCHAIN=local \
	  $(HELM_GO) install -ldflags '$(HELM_LDFLAGS)' helm.sh/helm/v3/cmd/helm@$(HELM_VERSION) \
	  > $(PINPIPE_CACHE_DIR)/logs/helm-build.log 2>&1 \
	  || { tail -n 20 $(PINPIPE_CACHE_DIR)/logs/helm-build.log >&2; exit 1; }
	mv $(PINPIPE_CACHE_DIR)/go/bin-helm/helm $@
	@$@ version --short

test-helm: $(HELM) py-deps ## Lint and render the chart, validate the manifests, check bad values are refused
	$(HELM) lint --strict --kube-version $(HELM_KUBE_VERSION) $(CHART)
	$(HELM) lint --strict --kube-version $(HELM_KUBE_VERSION) -f $(CHART_VALUES_PROD) $(CHART)
	$(HELM) lint --strict --kube-version $(HELM_KUBE_VERSION) -f $(CHART_VALUES_LOCAL) $(CHART)
	@mkdir -p $(CHART_OUT)
	$(HELM) template pinpipe $(CHART) --kube-version $(HELM_KUBE_VERSION) -n pinpipe > $(CHART_OUT)/default.yaml
	$(HELM) template pinpipe $(CHART) --kube-version $(HELM_KUBE_VERSION) -n pinpipe \
	  -f $(CHART_VALUES_PROD) > $(CHART_OUT)/production.yaml
	$(HELM) template pinpipe $(CHART) --kube-version $(HELM_KUBE_VERSION) -n pinpipe \
	  -f $(CHART_VALUES_LOCAL) > $(CHART_OUT)/local.yaml
	$(PY_VENV)/bin/python charts/tests/check_chart.py values-schema $(CHART)
	$(PY_VENV)/bin/python charts/tests/check_chart.py manifests $(HELM_KUBE_VERSION) \
	  $(CHART_OUT)/default.yaml $(CHART_OUT)/production.yaml $(CHART_OUT)/local.yaml
	@grep -q '^kind: PrometheusRule$$' $(CHART_OUT)/production.yaml \
	  || { echo "the production values render no PrometheusRule" >&2; exit 1; }
	@! grep -q '^kind: PrometheusRule$$' $(CHART_OUT)/default.yaml \
	  || { echo "the default values render a PrometheusRule (it needs the Prometheus Operator's CRDs)" >&2; exit 1; }
	$(PY_VENV)/bin/python charts/tests/check_chart.py rejects $(HELM) $(CHART) $(HELM_KUBE_VERSION)
	$(PY_VENV)/bin/python charts/tests/check_airflow_values.py charts/airflow-values.yaml
	$(PY_VENV)/bin/python charts/tests/check_trino_values.py charts/trino-values.yaml

EXTRA_TESTS += test-helm
