{{- define "klassify.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "klassify.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "klassify.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "klassify.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "klassify.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "klassify.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "klassify.selectorLabels" -}}
app.kubernetes.io/name: {{ include "klassify.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: classifier
{{- end -}}

{{- define "klassify.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- /* CPU cores of one pod: one per worker thread of ONNX Runtime (workers x intra-op threads). */ -}}
{{- define "klassify.cores" -}}
{{- mul (int64 .Values.config.pool.workers) (int64 .Values.config.pool.threadsPerWorker) -}}
{{- end -}}

{{- /* The drain budget after SIGTERM (shutdownTimeoutMs, rounded up) plus slack before SIGKILL. */ -}}
{{- define "klassify.terminationGrace" -}}
{{- $ms := int64 (default 30000 .Values.config.pipeline.shutdownTimeoutMs) -}}
{{- add (div (add $ms 999) 1000) (int64 .Values.terminationGraceExtraSeconds) -}}
{{- end -}}

{{- /* KEDA's names for klassify's SASL mechanisms (kafka scaler's sasl parameter). */ -}}
{{- define "klassify.kedaSasl" -}}
{{- $m := .Values.config.kafka.saslMechanism | default "none" -}}
{{- get (dict "none" "none" "plain" "plaintext" "scram-sha-256" "scram_sha256" "scram-sha-512" "scram_sha512") $m | default "invalid" -}}
{{- end -}}

{{- define "klassify.saslEnabled" -}}
{{- if ne (.Values.config.kafka.saslMechanism | default "none") "none" -}}true{{- end -}}
{{- end -}}

{{- /* Render-time checks: what would only fail later, in the pod or in KEDA, fails here with the fix. */ -}}
{{- define "klassify.validate" -}}
{{- $v := .Values -}}
{{- if not $v.config.kafka.brokers -}}
{{- fail "config.kafka.brokers is empty: in a pod klassify cannot run its embedded Kafka; set your cluster's bootstrap servers" -}}
{{- end -}}
{{- if not $v.config.metrics.enabled -}}
{{- fail "config.metrics.enabled is false: the probes, the Service and KEDA's neighbours need /healthz, /readyz and /metrics" -}}
{{- end -}}
{{- if gt (int64 $v.replicaCount) (int64 $v.inputPartitions) -}}
{{- fail (printf "replicaCount (%d) is above inputPartitions (%d): the extra consumers would get no partition" (int64 $v.replicaCount) (int64 $v.inputPartitions)) -}}
{{- end -}}
{{- if $v.keda.enabled -}}
{{- if gt (int64 $v.keda.maxReplicas) (int64 $v.inputPartitions) -}}
{{- fail (printf "keda.maxReplicas (%d) is above inputPartitions (%d): a consumer group gives each partition to one member, so the extra replicas would sit idle" (int64 $v.keda.maxReplicas) (int64 $v.inputPartitions)) -}}
{{- end -}}
{{- if gt (int64 $v.keda.minReplicas) (int64 $v.keda.maxReplicas) -}}
{{- fail "keda.minReplicas is above keda.maxReplicas" -}}
{{- end -}}
{{- if and $v.keda.limitToPartitionsWithLag (ne (len $v.config.pipeline.inputTopics) 1) -}}
{{- fail "keda.limitToPartitionsWithLag needs exactly one input topic (KEDA's kafka scaler requires its topic parameter then)" -}}
{{- end -}}
{{- if eq (include "klassify.kedaSasl" .) "invalid" -}}
{{- fail (printf "config.kafka.saslMechanism %q has no KEDA kafka scaler equivalent" $v.config.kafka.saslMechanism) -}}
{{- end -}}
{{- if and (include "klassify.saslEnabled" .) (or (not $v.secretRefs.kafka.saslUsername.name) (not $v.secretRefs.kafka.saslPassword.name)) -}}
{{- fail "SASL is on: KEDA reads the user name and password from Secrets, so set secretRefs.kafka.saslUsername and secretRefs.kafka.saslPassword" -}}
{{- end -}}
{{- end -}}
{{- if and (include "klassify.saslEnabled" .) (not $v.secretRefs.kafka.saslPassword.name) -}}
{{- fail "config.kafka.saslMechanism is set: give the password as secretRefs.kafka.saslPassword (an existing Secret)" -}}
{{- end -}}
{{- end -}}

{{/* The brands file from a ConfigMap (brands.file.configMap): env, mount and volume, for both Deployments. */}}
{{- define "klassify.brandsFileEnv" -}}
{{- if .Values.brands.file.configMap }}
- name: KLASSIFY_BRANDS
  value: {{ printf "/etc/klassify/brands/%s" .Values.brands.file.key | quote }}
{{- end }}
{{- end }}

{{- define "klassify.brandsFileMount" -}}
{{- if .Values.brands.file.configMap }}
- { name: brands-file, mountPath: /etc/klassify/brands, readOnly: true }
{{- end }}
{{- end }}

{{- define "klassify.brandsFileVolume" -}}
{{- if .Values.brands.file.configMap }}
- name: brands-file
  configMap:
    name: {{ .Values.brands.file.configMap | quote }}
    items: [{ key: {{ .Values.brands.file.key | quote }}, path: {{ .Values.brands.file.key | quote }} }]
{{- end }}
{{- end }}
