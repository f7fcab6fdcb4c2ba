# Monitoring of the local stack and of installs: Prometheus (stack/prometheus), the Cassandra JMX
# exporter (stack/cassandra/jmx-exporter.yaml) and the Grafana dashboard in the chart.
#   make test-monitoring   promtool checks the Prometheus configuration the stack renders, and the
#                          exporter configuration parses. The dashboard-metrics test is a vitest
#                          unit test (jobs/test/dashboard.test.ts); the live targets are checked
#                          by jobs/test/monitoring.int.test.ts.

MONITORING_OUT := out/monitoring

.PHONY: test-monitoring

test-monitoring: py-deps ## Check the Prometheus and JMX exporter configurations
	$(STACK) install prometheus
	@mkdir -p $(MONITORING_OUT)
	sed -e 's/@PROMETHEUS_PORT@/9090/' -e 's/@PUSHGATEWAY_PORT@/9091/' \
	  -e 's/@CASSANDRA_EXPORTER_PORT@/9104/' -e 's/@INGEST@/127.0.0.1:8088/' \
	  -e 's/@S3_SINK@/127.0.0.1:9101/' -e 's/@STREAM_AGG@/127.0.0.1:9102/' \
	  stack/prometheus/prometheus.yml.in > $(MONITORING_OUT)/prometheus.yml
	@! grep -v '^ *#' $(MONITORING_OUT)/prometheus.yml | grep '@[A-Z_]*@' \
	  || { echo "prometheus.yml.in has a placeholder this check does not fill" >&2; exit 1; }
	promtool check config $(MONITORING_OUT)/prometheus.yml
	$(PY_VENV)/bin/python -c 'import sys, yaml; c = yaml.safe_load(open(sys.argv[1])); \
	  assert c["rules"] and all("pattern" in r and "name" in r and "$$" not in r["name"] for r in c["rules"]), \
	  "every rule needs a pattern and a literal name"; print("ok", sys.argv[1], len(c["rules"]), "rules")' \
	  stack/cassandra/jmx-exporter.yaml

EXTRA_TESTS += test-monitoring
