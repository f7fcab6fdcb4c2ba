# A local single-node Kubernetes cluster (stack/k8s.sh): the chart installed for real and the
# daily DAG's pods launched in it. See docs/kubernetes.md.
#   make k8s-up     build (first time: about 8 min) and start the cluster on a private node address
#   make k8s-down   stop it and remove its pods, mounts, iptables rules, links and cgroups
#   make test-k8s   helm install/test/upgrade/rollback of charts/pinpipe against the local stack
#   make test-airflow-k8s  pinpipe_daily through KubernetesPodOperator in the cluster

K8S := stack/k8s.sh

.PHONY: k8s-up k8s-down k8s-status test-k8s test-airflow-k8s test-k8s-down

k8s-up: ## Start the local single-node Kubernetes cluster (built from the Go module proxy, cached)
	$(K8S) up
	@echo "k8s: eval \"\$$($(K8S) env)\" gives KUBECONFIG; $(K8S) kubectl get pods -A"

k8s-down: ## Stop the local Kubernetes cluster, leaving nothing of it running or mounted
	$(K8S) down

k8s-status: ## Say which parts of the local Kubernetes cluster are up
	$(K8S) status

test-k8s: $(HELM) build images ## The chart on the local cluster: install, probes, helm test, a batch through the Service, upgrade, rollback, RBAC
	$(STACK) up postgres s3 kafka
	$(K8S) up
	$(WITH_STACK_ENV) HELM=$(HELM) PINPIPE_IMAGE_VERSION=$(IMAGE_VERSION) bash charts/tests/k8s-install.sh

EXTRA_TESTS += test-k8s

test-airflow-k8s: airflow-deps $(HELM) build images ## airflow dags test pinpipe_daily with KubernetesPodOperator pods in the local cluster
	$(STACK) up s3 cassandra trino
	$(K8S) up
	$(WITH_STACK_ENV) HELM=$(HELM) AIRFLOW_VENV="$(AIRFLOW_VENV)" PINPIPE_IMAGE_VERSION=$(IMAGE_VERSION) \
	  PINPIPE_E2E_LAUNCHER=kubernetes bash dags/scripts/e2e.sh

EXTRA_TESTS += test-airflow-k8s

test-k8s-down: ## Stop the local cluster and check it left no process, mount, link, iptables rule or cgroup
	$(K8S) down
	$(K8S) leftovers

EXTRA_TESTS += test-k8s-down
