{{/* The chart's name. */}}
{{- define "livechat-rooms.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The objects' name: the release's, with the chart's name unless it contains it already. */}}
{{- define "livechat-rooms.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Selector labels. The name is never `rocketchat`: Rocket.Chat's Service selects
`app.kubernetes.io/name: rocketchat`, and these pods must not join it.
*/}}
{{- define "livechat-rooms.selectorLabels" -}}
app.kubernetes.io/name: {{ include "livechat-rooms.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "livechat-rooms.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "livechat-rooms.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: api
app.kubernetes.io/part-of: rocketchat
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The Secret holding MONGO_URL and its key. */}}
{{- define "livechat-rooms.mongoSecretName" -}}
{{- if .Values.mongo.existingSecret }}{{ .Values.mongo.existingSecret }}{{ else }}{{ include "livechat-rooms.fullname" . }}-mongo{{ end }}
{{- end }}
{{- define "livechat-rooms.mongoSecretKey" -}}
{{- if .Values.mongo.existingSecret }}{{ .Values.mongo.existingSecretKey }}{{ else }}mongo-uri{{ end }}
{{- end }}

{{/* The Secret holding CURSOR_SECRET and its key. */}}
{{- define "livechat-rooms.cursorSecretName" -}}
{{- if .Values.cursorSecret.existingSecret }}{{ .Values.cursorSecret.existingSecret }}{{ else }}{{ include "livechat-rooms.fullname" . }}-cursor{{ end }}
{{- end }}
{{- define "livechat-rooms.cursorSecretKey" -}}
{{- if .Values.cursorSecret.existingSecret }}{{ .Values.cursorSecret.existingSecretKey }}{{ else }}cursor-secret{{ end }}
{{- end }}

{{/* The image reference. */}}
{{- define "livechat-rooms.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* Whether the Prometheus Operator monitor is rendered. */}}
{{- define "livechat-rooms.monitoring" -}}
{{- $mode := toString .Values.monitoring.enabled }}
{{- if or (eq $mode "true") (and (eq $mode "auto") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) }}true{{ end }}
{{- end }}

{{/* The route's path. */}}
{{- define "livechat-rooms.path" -}}/api/v1/livechat/rooms{{- end }}
