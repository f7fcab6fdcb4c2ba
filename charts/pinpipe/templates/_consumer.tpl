{{/*
The Deployment of a Kafka consumer job (s3-sink, stream-agg): no HTTP API, a metrics port that
serves /metrics and /healthz, replicas at most the partitions. The per-job image
runs its job (pinpipe/s3-sink runs `pinpipe s3-sink`), so the container has no args. Under
hostNetwork the rollout already fits (one member leaves before the next joins).
Call with (dict "root" $ "component" "s3-sink" "key" "s3Sink").
*/}}
{{- define "pinpipe.consumerDeployment" -}}
{{- $ := .root -}}
{{- $c := index $.Values .key -}}
{{- $ctx := dict "root" $ "component" .component -}}
{{- include "pinpipe.checkConsumerReplicas" (dict "root" $ "name" .key "replicas" $c.replicas) -}}
{{- include "pinpipe.checkHostNetwork" $ -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "pinpipe.componentName" $ctx }}
  labels:
    {{- include "pinpipe.componentLabels" $ctx | nindent 4 }}
spec:
  replicas: {{ $c.replicas }}
  selector:
    matchLabels:
      {{- include "pinpipe.selectorLabels" $ctx | nindent 6 }}
  # One member leaves the group before the next joins: fewer rebalances during a rollout.
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 1
      maxSurge: 0
  template:
    metadata:
      labels:
        {{- include "pinpipe.selectorLabels" $ctx | nindent 8 }}
      annotations:
        checksum/config: {{ include (print $.Template.BasePath "/configmaps/configmap.yaml") $ | sha256sum }}
        {{- with (merge (dict) $c.podAnnotations $.Values.podAnnotations) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "pinpipe.serviceAccountName" $ }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ $c.terminationGracePeriodSeconds }}
      {{- with (include "pinpipe.hostNetwork" $) }}
      {{- . | nindent 6 }}
      {{- end }}
      securityContext:
        {{- toYaml $.Values.podSecurityContext | nindent 8 }}
      {{- with $.Values.images.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      {{- with (include "pinpipe.scheduling" (dict "root" $ "component" $c)) }}
      {{- . | nindent 6 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "pinpipe.image" (dict "root" $ "job" .component "image" $c.image) }}
          imagePullPolicy: {{ include "pinpipe.imagePullPolicy" (dict "root" $ "image" $c.image) }}
          ports:
            - name: metrics
              containerPort: {{ $c.metricsPort }}
              protocol: TCP
          envFrom:
            {{- include "pinpipe.envFrom" $ctx | nindent 12 }}
          env:
            - name: PINPIPE_METRICS_HOST
              {{- include "pinpipe.listenAddress" $ | nindent 14 }}
            - name: PINPIPE_METRICS_PORT
              value: {{ $c.metricsPort | int64 | quote }}
            - name: PINPIPE_GROUP_ID
              value: {{ $c.groupId | quote }}
            {{- if hasKey $c "maxBufferBytes" }}
            - name: PINPIPE_MAX_BUFFER_BYTES
              value: {{ $c.maxBufferBytes | int64 | quote }}
            {{- end }}
            {{- with (include "pinpipe.extraEnv" $c) }}
            {{- . | nindent 12 }}
            {{- end }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: metrics
            {{- toYaml $c.livenessProbe | nindent 12 }}
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          securityContext:
            {{- toYaml $.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
{{- end -}}

{{/* The metrics Service of a consumer job, for Prometheus and the ServiceMonitor. */}}
{{- define "pinpipe.metricsService" -}}
{{- $ := .root -}}
{{- $c := index $.Values .key -}}
{{- $ctx := dict "root" $ "component" .component -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "pinpipe.componentName" $ctx }}-metrics
  labels:
    {{- include "pinpipe.componentLabels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "pinpipe.selectorLabels" $ctx | nindent 4 }}
  ports:
    - name: metrics
      port: {{ $c.metricsPort }}
      targetPort: metrics
      protocol: TCP
{{- end -}}

{{/*
A ServiceMonitor for one job's Service. honorLabels keeps the `job` label the jobs put on their
own series (ingest, s3-sink, ...), which the dashboard filters on.
Call with (dict "root" $ "component" "ingest" "service" "<name>" "port" "http").
*/}}
{{- define "pinpipe.serviceMonitor" -}}
{{- $ := .root -}}
{{- $ctx := dict "root" $ "component" .component -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "pinpipe.componentName" $ctx }}
  labels:
    {{- include "pinpipe.componentLabels" $ctx | nindent 4 }}
    {{- with $.Values.monitoring.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "pinpipe.selectorLabels" $ctx | nindent 6 }}
  endpoints:
    - port: {{ .port }}
      path: /metrics
      interval: {{ $.Values.monitoring.serviceMonitor.interval }}
      honorLabels: true
{{- end -}}
