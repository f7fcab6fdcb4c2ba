# Monitoring of the local stack and of installs: Prometheus (stack/prometheus), the alerting rules
# (charts/pinpipe/alerts), Alertmanager, the Cassandra JMX exporter (stack/cassandra/jmx-exporter.yaml)
# and the Grafana dashboard in the chart.
#   make test-monitoring   promtool checks the Prometheus configuration the stack renders and the
#                          rules it loads, runs the rules' unit tests (promtool test rules),
#                          amtool checks Alertmanager's configuration, and the exporter
#                          configuration parses. The dashboard and rules metric-name test is a
#                          vitest unit test (jobs/test/dashboard.test.ts); the live targets are
#                          checked by jobs/test/monitoring.int.test.ts, an alert firing and
#                          resolving by jobs/test/alerts.int.test.ts.
#   make alerts            the latest alerts the local Alertmanager sent to the alert log
#   make test-prometheus-ui  s3-sink lagging on a topic, group, bucket and namespace of its own
#                          (jobs/test/ui/prometheus-ui.sh, prometheus-lag.ts): the lag in
#                          Prometheus's own graph in headless Chromium, prometheus-lag.png

MONITORING_OUT := out/monitoring
ALERT_RULES := charts/pinpipe/alerts/pinpipe-alerts.yaml

# Where the Prometheus browser test leaves its screenshot and the sink's log.
PROMETHEUS_UI_OUT ?= out/prometheus-ui

.PHONY: test-monitoring alerts test-prometheus-ui

test-monitoring: py-deps ## Check the Prometheus, alerting rules, Alertmanager and JMX exporter configurations
	$(STACK) install prometheus alertmanager
	@mkdir -p $(MONITORING_OUT)
	sed -e 's/@PROMETHEUS_PORT@/9090/' -e 's/@PUSHGATEWAY_PORT@/9091/' \
	  -e 's/@CASSANDRA_EXPORTER_PORT@/9104/' -e 's/@INGEST@/127.0.0.1:8088/' \
	  -e 's/@S3_SINK@/127.0.0.1:9101/' -e 's/@STREAM_AGG@/127.0.0.1:9102/' \
	  -e 's/@ALERTMANAGER_PORT@/9095/' -e 's|@RULES_FILE@|$(CURDIR)/$(ALERT_RULES)|' \
	  -e 's|@TARGETS_DIR@|$(CURDIR)/$(MONITORING_OUT)/targets|' \
	  stack/prometheus/prometheus.yml.in > $(MONITORING_OUT)/prometheus.yml
	sed -e 's/@ALERT_LOG_PORT@/9097/' stack/prometheus/alertmanager.yml.in > $(MONITORING_OUT)/alertmanager.yml
	@! grep -v '^ *#' $(MONITORING_OUT)/prometheus.yml $(MONITORING_OUT)/alertmanager.yml | grep '@[A-Z_]*@' \
	  || { echo "a stack/prometheus template has a placeholder this check does not fill" >&2; exit 1; }
	promtool check config $(MONITORING_OUT)/prometheus.yml
	promtool check rules $(ALERT_RULES)
	cd charts/pinpipe/alerts/tests && promtool test rules pinpipe-alerts.test.yaml
	amtool check-config $(MONITORING_OUT)/alertmanager.yml
	$(PY_VENV)/bin/python -c 'import sys, yaml; c = yaml.safe_load(open(sys.argv[1])); \
	  assert c["rules"] and all("pattern" in r and "name" in r and "$$" not in r["name"] for r in c["rules"]), \
	  "every rule needs a pattern and a literal name"; print("ok", sys.argv[1], len(c["rules"]), "rules")' \
	  stack/cassandra/jmx-exporter.yaml

EXTRA_TESTS += test-monitoring test-prometheus-ui

# UPDATE_DOCS=1 also copies the screenshot to docs/images/prometheus-lag.png (the manual's).
test-prometheus-ui: build chromium ## Prometheus's UI in headless Chromium: a lagging s3-sink's lag rising and draining in the graph
	$(STACK) up kafka s3 prometheus
	$(WITH_STACK_ENV) PINPIPE_CHROMIUM="$(CHROMIUM)" PINPIPE_UI_ARTIFACTS="$(CURDIR)/$(PROMETHEUS_UI_OUT)" \
	  bash jobs/test/ui/prometheus-ui.sh
	@$(call docs_images,$(PROMETHEUS_UI_OUT),prometheus-lag.png)

alerts: ## The latest alerts the local Alertmanager sent to the alert log (fired and resolved)
	@python3 -c 'import json, sys; \
	  lines = open(sys.argv[1]).read().splitlines()[-30:]; \
	  [print(a["received_at"][:19], a["status"].ljust(8), a["alertname"], "-", a["annotations"].get("summary", "")) \
	   for a in map(json.loads, lines)] or print("no alert yet")' \
	  "$$($(STACK) env | sed -n 's/^export PINPIPE_ALERT_LOG=//p')" 2>/dev/null \
	  || echo "no alert log yet: make up starts Alertmanager and the alert log"
