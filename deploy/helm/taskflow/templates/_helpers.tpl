{{/* Labels every TaskFlow object carries. */}}
{{- define "taskflow.labels" -}}
app.kubernetes.io/part-of: taskflow
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The image of one service: <repository>/<service>:<tag>. */}}
{{- define "taskflow.image" -}}
{{ .root.Values.image.repository }}/{{ .name }}:{{ .root.Values.image.tag }}
{{- end -}}

{{/* Where the API sends commands: Dapr service invocation when sidecars run, else Knative. */}}
{{- define "taskflow.createTaskUrl" -}}
{{- if .Values.dapr.enabled -}}
http://localhost:3500/v1.0/invoke/create-task/method
{{- else -}}
http://create-task.{{ .Release.Namespace }}.svc.cluster.local
{{- end -}}
{{- end -}}

{{/* Refuse any namespace but taskflow: eventing/*.yaml (Brokers, Triggers) name it. */}}
{{- define "taskflow.namespace" -}}
{{- if ne .Release.Namespace "taskflow" -}}
{{- fail "install TaskFlow into the namespace taskflow (helm --namespace taskflow): the Brokers and Triggers in eventing/ name it" -}}
{{- end -}}
{{ .Release.Namespace }}
{{- end -}}
