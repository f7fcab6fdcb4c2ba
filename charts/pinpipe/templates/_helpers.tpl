{{/*
Names. Kubernetes object names (and label values) are DNS labels of at most 63 characters, so
every name is truncated to 63 and loses a trailing "-" the cut may leave.
*/}}
{{- define "pinpipe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-pinpipe", or just the release name when it already contains the chart name. */}}
{{- define "pinpipe.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's objects: "<fullname>-<component>", e.g. "prod-pinpipe-ingest". */}}
{{- define "pinpipe.componentName" -}}
{{- printf "%s-%s" (include "pinpipe.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pinpipe.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "pinpipe.labels" -}}
helm.sh/chart: {{ include "pinpipe.chart" . }}
app.kubernetes.io/name: {{ include "pinpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pinpipe
{{- with .Values.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "ingest"). */}}
{{- define "pinpipe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pinpipe.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All labels of one component's objects. */}}
{{- define "pinpipe.componentLabels" -}}
{{ include "pinpipe.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
Image of one job: <registry>/<repository>/<job>@<digest> or :<tag>; the component's image
settings fall back to the global ones, the tag to the chart's appVersion, and a digest wins.
Call with (dict "root" $ "job" "ingest" "image" .Values.ingest.image).
*/}}
{{- define "pinpipe.image" -}}
{{- $global := .root.Values.images -}}
{{- $own := .image | default dict -}}
{{- $registry := $own.registry | default $global.registry -}}
{{- $repository := $own.repository | default $global.repository -}}
{{- $tag := $own.tag | default $global.tag | default .root.Chart.AppVersion -}}
{{- $digest := $own.digest | default $global.digest -}}
{{- $path := printf "%s/%s" $repository .job | trimPrefix "/" -}}
{{- if $registry -}}{{- $path = printf "%s/%s" $registry $path -}}{{- end -}}
{{- if $digest -}}
{{- printf "%s@%s" $path $digest -}}
{{- else -}}
{{- printf "%s:%s" $path (toString $tag) -}}
{{- end -}}
{{- end -}}

{{- define "pinpipe.imagePullPolicy" -}}
{{- (.image | default dict).pullPolicy | default .root.Values.images.pullPolicy -}}
{{- end -}}

{{/* The shared ConfigMap and the Secret of the jobs. */}}
{{- define "pinpipe.configMapName" -}}
{{- printf "%s-config" (include "pinpipe.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pinpipe.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- printf "%s-secrets" (include "pinpipe.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pinpipe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pinpipe.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
What every job container shares: the ConfigMap and Secret as environment, a writable /tmp and
the security context. Call with (dict "root" $ "component" .Values.ingest).
*/}}
{{- define "pinpipe.envFrom" -}}
- configMapRef:
    name: {{ include "pinpipe.configMapName" .root }}
- secretRef:
    name: {{ include "pinpipe.secretName" .root }}
{{- end -}}

{{/* Extra NAME: value environment of one component, sorted by name. */}}
{{- define "pinpipe.extraEnv" -}}
{{- range $name, $value := .env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* Pod scheduling: the component's own settings, else the global ones. */}}
{{- define "pinpipe.scheduling" -}}
{{- with (.component.nodeSelector | default .root.Values.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.component.tolerations | default .root.Values.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.component.affinity | default .root.Values.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Replicas of a consumer group must not exceed the partitions: extra members would sit idle while
being counted as capacity. Call with (dict "root" $ "name" "s3Sink" "replicas" N).
*/}}
{{- define "pinpipe.checkConsumerReplicas" -}}
{{- $partitions := int .root.Values.kafka.partitions -}}
{{- if gt (int .replicas) $partitions -}}
{{- fail (printf "%s.replicas is %d but kafka.partitions is %d: a consumer group uses at most one member per partition; lower %s.replicas or raise kafka.partitions" .name (int .replicas) $partitions .name) -}}
{{- end -}}
{{- end -}}

{{/*
hostNetwork: the pod shares the node's network namespace (a single-node cluster whose Kafka,
MinIO, ... listen on the node's 127.0.0.1). Nothing is rendered when it is off.
*/}}
{{- define "pinpipe.hostNetwork" -}}
{{- if .Values.hostNetwork -}}
hostNetwork: true
dnsPolicy: ClusterFirstWithHostNet
{{- end -}}
{{- end -}}

{{/*
The value of a listen-address variable (PINPIPE_HOST, PINPIPE_METRICS_HOST): every interface of
the pod's own network namespace, or under hostNetwork the pod's IP (the node's), so that a job
does not listen on every interface of the node.
*/}}
{{- define "pinpipe.listenAddress" -}}
{{- if .Values.hostNetwork -}}
valueFrom:
  fieldRef:
    fieldPath: status.podIP
{{- else -}}
value: "0.0.0.0"
{{- end -}}
{{- end -}}

{{/*
Under hostNetwork a component's pods all bind the same ports of the node: a second pod on the
node cannot start. Refuse more than one replica (or ingest's HPA) of an enabled component and
two components on one port, all problems in one message. Every Deployment calls it with $.
*/}}
{{- define "pinpipe.checkHostNetwork" -}}
{{- $v := .Values -}}
{{- if $v.hostNetwork -}}
{{- $problems := list -}}
{{- $ports := dict -}}
{{- if $v.ingest.enabled -}}
{{- if $v.ingest.hpa.enabled -}}{{- $problems = append $problems "ingest.hpa.enabled is true (set it to false)" -}}{{- end -}}
{{- if gt (int $v.ingest.replicas) 1 -}}{{- $problems = append $problems (printf "ingest.replicas is %d (set it to 1)" (int $v.ingest.replicas)) -}}{{- end -}}
{{- $_ := set $ports "ingest.port" (int $v.ingest.port) -}}
{{- end -}}
{{- range $key := list "s3Sink" "streamAgg" -}}
{{- $c := index $v $key -}}
{{- if $c.enabled -}}
{{- if gt (int $c.replicas) 1 -}}{{- $problems = append $problems (printf "%s.replicas is %d (set it to 1)" $key (int $c.replicas)) -}}{{- end -}}
{{- $_ := set $ports (printf "%s.metricsPort" $key) (int $c.metricsPort) -}}
{{- end -}}
{{- end -}}
{{- range $a, $pa := $ports -}}
{{- range $b, $pb := $ports -}}
{{- if and (lt $a $b) (eq $pa $pb) -}}
{{- $problems = append $problems (printf "%s and %s are both %d (give them different ports)" $a $b $pa) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $problems -}}
{{- fail (printf "hostNetwork is on, and pods in the node's network namespace collide on the node's ports, so each component runs one pod on a port of its own: %s" (join "; " $problems)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
