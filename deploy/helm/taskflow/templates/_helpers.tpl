{{/* Labels every TaskFlow object carries. */}}
{{- define "taskflow.labels" -}}
app.kubernetes.io/part-of: taskflow
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The image of one service: <repository>/<service>:<tag>. */}}
{{- define "taskflow.image" -}}
{{ required "image.repository is required (e.g. --set image.repository=<registry>/<owner>/taskflow)" .root.Values.image.repository }}/{{ .name }}:{{ required "image.tag is required (e.g. --set image.tag=<commit sha>)" .root.Values.image.tag }}
{{- end -}}

{{/* Where the API sends commands. Always through Knative (create-task's cluster-local address:
queue-proxy, the activator and the autoscaler see every command). With sidecars, through the
API's own daprd and the HTTPEndpoint create-task-knative, which adds Dapr's resiliency policy
and tracing; never Dapr service invocation of the app id, which bypasses Knative
(specs/deployment.md, "The command path"). */}}
{{- define "taskflow.createTaskUrl" -}}
{{- if .Values.dapr.enabled -}}
http://localhost:3500/v1.0/invoke/create-task-knative/method
{{- else -}}
{{ include "taskflow.createTaskKnativeUrl" . }}
{{- end -}}
{{- end -}}

{{- define "taskflow.createTaskKnativeUrl" -}}
http://create-task.{{ .Release.Namespace }}.svc.cluster.local
{{- end -}}

{{/* Refuse any namespace but taskflow: eventing/*.yaml (Brokers, Triggers) name it. */}}
{{- define "taskflow.namespace" -}}
{{- if ne .Release.Namespace "taskflow" -}}
{{- fail "install TaskFlow into the namespace taskflow (helm --namespace taskflow): the Brokers and Triggers in eventing/ name it" -}}
{{- end -}}
{{ .Release.Namespace }}
{{- end -}}
