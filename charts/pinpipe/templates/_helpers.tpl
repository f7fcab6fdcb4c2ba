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
