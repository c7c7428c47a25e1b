{{/* Chart name, overridable. */}}
{{- define "flexai.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Object-name prefix: "<release>-flexai", or just the release name when it already contains the chart
name (so `helm install flexai ...` gives flexai-scheduler, flexai-device-plugin, flexai-policy).
*/}}
{{- define "flexai.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "flexai.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries besides its name and instance. */}}
{{- define "flexai.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: flexai
{{- end -}}

{{/* Labels of an object that belongs to no single component. */}}
{{- define "flexai.labels" -}}
app.kubernetes.io/name: {{ include "flexai.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{ include "flexai.commonLabels" . }}
{{- end -}}

{{/* Labels of a component's object; call with (dict "ctx" $ "component" "scheduler"). */}}
{{- define "flexai.componentLabels" -}}
{{ include "flexai.selectorLabels" . }}
{{ include "flexai.commonLabels" .ctx }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "ctx" $ "component" "scheduler"). */}}
{{- define "flexai.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flexai.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The flexai image (every flexai binary lives in it). */}}
{{- define "flexai.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Names of the component objects. */}}
{{- define "flexai.schedulerName" -}}{{ include "flexai.fullname" . }}-scheduler{{- end -}}
{{- define "flexai.devicePluginName" -}}{{ include "flexai.fullname" . }}-device-plugin{{- end -}}
{{- /* "true" when the device plugin must share /dev/shm with MPS containers: devicePlugin.mps.enabled,
or the policy's isolationMode (global or in a node override) is mps. */ -}}
{{- define "flexai.mpsEnabled" -}}
{{- $on := .Values.devicePlugin.mps.enabled -}}
{{- if eq (toString (dig "sharing" "isolationMode" "" .Values.policy)) "mps" -}}{{- $on = true -}}{{- end -}}
{{- range (.Values.policy.nodeOverrides | default list) -}}
{{- if eq (toString (.isolationMode | default "")) "mps" -}}{{- $on = true -}}{{- end -}}
{{- end -}}
{{- if $on -}}true{{- end -}}
{{- end -}}
{{- define "flexai.policyName" -}}{{ include "flexai.fullname" . }}-policy{{- end -}}
{{- define "flexai.webhookName" -}}{{ include "flexai.fullname" . }}-webhook{{- end -}}
{{- define "flexai.webhookSecretName" -}}{{ include "flexai.fullname" . }}-webhook-tls{{- end -}}

{{/* The port of hi-scheduler's loopback extender API, from scheduler.hiScheduler.listen. */}}
{{- define "flexai.extenderPort" -}}
{{- $parts := splitList ":" .Values.scheduler.hiScheduler.listen -}}
{{- last $parts -}}
{{- end -}}

{{/* The extender's host as kube-scheduler dials it (a wildcard listen address means loopback). */}}
{{- define "flexai.extenderHost" -}}
{{- $parts := splitList ":" .Values.scheduler.hiScheduler.listen -}}
{{- $host := first $parts -}}
{{- if or (eq $host "0.0.0.0") (eq $host "") -}}127.0.0.1{{- else -}}{{ $host }}{{- end -}}
{{- end -}}

{{/* The extender API's base URL as kube-scheduler and the probes call it. */}}
{{- define "flexai.extenderURL" -}}
{{- printf "%s://%s:%s" (ternary "https" "http" .Values.scheduler.hiScheduler.listenTLS) (include "flexai.extenderHost" .) (include "flexai.extenderPort" .) -}}
{{- end -}}

{{/* The DNS name the webhook certificate is issued for (and kube-scheduler verifies). */}}
{{- define "flexai.webhookServerName" -}}
{{- printf "%s.%s.svc" (include "flexai.webhookName" .) .Release.Namespace -}}
{{- end -}}
