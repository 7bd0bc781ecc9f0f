{{/*
Helpers of the orders-pipeline chart. Templates that take a "context" get
(dict "root" $ "name" <component>), where <component> is a key of .Values.services
(ingress, projector, enricher, risk, router) or "migrate" for the migration job.
*/}}

{{/* The services, in start-up order; each runs the binary orders-<name>. */}}
{{- define "orders.components" -}}
ingress projector enricher risk router
{{- end }}

{{/* The consumer-group members among them. */}}
{{- define "orders.consumers" -}}
projector enricher risk router
{{- end }}

{{- define "orders.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "orders.fullname" -}}
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

{{/* Name of a component's resources: <fullname>-<component>. */}}
{{- define "orders.componentFullname" -}}
{{- printf "%s-%s" (include "orders.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "orders.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orders.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "orders.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "orders.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: orders-pipeline
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "orders.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "orders.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "orders.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Non-secret environment of a component, as "KEY: value" lines: the data of its ConfigMap and,
through fromYaml, the env of the migration job (which runs before the ConfigMaps exist).
Service-specific .Values.services.<name>.env entries win over the common ones.
*/}}
{{- define "orders.configData" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $env := dict }}
{{- $_ := set $env "KAFKA_BROKERS" $v.kafka.brokers }}
{{- $_ = set $env "ORDERS_EVENTS_TOPIC" $v.kafka.eventsTopic }}
{{- $_ = set $env "ORDERS_DLQ_TOPIC" $v.kafka.dlqTopic }}
{{- $_ = set $env "ORDERS_PARTITIONS" (printf "%d" (int $v.kafka.partitions)) }}
{{- $_ = set $env "ORDERS_REPLICATION_FACTOR" (printf "%d" (int $v.kafka.replicationFactor)) }}
{{- $_ = set $env "ORDERS_FETCH_WAIT_MS" (printf "%d" (int $v.kafka.fetchWaitMs)) }}
{{- $_ = set $env "ORDERS_LINGER_MS" (printf "%d" (int $v.kafka.lingerMs)) }}
{{- if and $v.kafka.properties (not $v.kafka.propertiesSecret.name) }}
{{- $_ = set $env "ORDERS_KAFKA_PROPERTIES" $v.kafka.properties }}
{{- end }}
{{- if ne .name "enricher" }}
{{- $_ = set $env "ORDERS_DB_SCHEMA" $v.database.schema }}
{{- end }}
{{- $_ = set $env "ORDERS_HTTP_ADDR" (printf "0.0.0.0:%d" (int $v.ports.http)) }}
{{- $_ = set $env "ORDERS_DRAIN_TIMEOUT" $v.drainTimeout }}
{{- $_ = set $env "ORDERS_SHUTDOWN_DEADLINE" $v.shutdownDeadline }}
{{- $_ = set $env "ORDERS_LOG_FORMAT" $v.telemetry.logFormat }}
{{- $_ = set $env "RUST_LOG" $v.telemetry.logLevel }}
{{- $_ = set $env "OTEL_SERVICE_NAME" (ternary "ordersctl" (printf "orders-%s" .name) (eq .name "migrate")) }}
{{- with $v.telemetry.otlpEndpoint }}
{{- $_ = set $env "OTEL_EXPORTER_OTLP_ENDPOINT" . }}
{{- end }}
{{- if eq .name "ingress" }}
{{- $_ = set $env "ORDERS_GRPC_ADDR" (printf "0.0.0.0:%d" (int $v.ports.grpc)) }}
{{- end }}
{{- if eq .name "enricher" }}
{{- with $v.ai.primary.url }}
{{- $_ = set $env "ORDERS_AI_PRIMARY_URL" . }}
{{- end }}
{{- $_ = set $env "ORDERS_AI_PRIMARY_MODEL" $v.ai.primary.model }}
{{- with $v.ai.secondary.url }}
{{- $_ = set $env "ORDERS_AI_SECONDARY_URL" . }}
{{- end }}
{{- $_ = set $env "ORDERS_AI_SECONDARY_MODEL" $v.ai.secondary.model }}
{{- $_ = set $env "ORDERS_AI_TIMEOUT" $v.ai.timeout }}
{{- $_ = set $env "ORDERS_AI_BREAKER_FAILURES" (printf "%d" (int $v.ai.breakerFailures)) }}
{{- $_ = set $env "ORDERS_AI_BREAKER_OPEN_FOR" $v.ai.breakerOpenFor }}
{{- $_ = set $env "ORDERS_AI_BREAKER_TRIALS" (printf "%d" (int $v.ai.breakerTrials)) }}
{{- end }}
{{- if $v.configFiles.existingConfigMap }}
{{- if and (eq .name "enricher") $v.configFiles.catalogueKey }}
{{- $_ = set $env "ORDERS_CATALOGUE" (printf "/etc/orders/%s" $v.configFiles.catalogueKey) }}
{{- end }}
{{- if and (eq .name "risk") $v.configFiles.riskKey }}
{{- $_ = set $env "ORDERS_RISK_CONFIG" (printf "/etc/orders/%s" $v.configFiles.riskKey) }}
{{- end }}
{{- if and (eq .name "router") $v.configFiles.hubsKey }}
{{- $_ = set $env "ORDERS_HUBS_CONFIG" (printf "/etc/orders/%s" $v.configFiles.hubsKey) }}
{{- end }}
{{- end }}
{{- if hasKey $v.services .name }}
{{- range $key, $value := (index $v.services .name).env }}
{{- $_ = set $env $key (toString $value) }}
{{- end }}
{{- end }}
{{- range $key, $value := $env }}
{{ $key }}: {{ $value | quote }}
{{- end }}
{{- end }}

{{/*
Environment read from existing Secrets (never values of this chart), as EnvVar list items.
*/}}
{{- define "orders.secretEnv" -}}
{{- $v := .root.Values }}
{{- if ne .name "enricher" }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret is required: the name of a Secret holding the PostgreSQL URL (docs/deploy.md)" $v.database.existingSecret }}
      key: {{ $v.database.urlKey }}
{{- if and (eq .name "ingress") $v.database.readUrlKey }}
- name: DATABASE_READ_URL
  valueFrom:
    secretKeyRef:
      name: {{ $v.database.existingSecret }}
      key: {{ $v.database.readUrlKey }}
{{- end }}
{{- end }}
{{- with $v.kafka.propertiesSecret.name }}
- name: ORDERS_KAFKA_PROPERTIES
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.kafka.propertiesSecret.key }}
{{- end }}
{{- if eq .name "enricher" }}
{{- with $v.ai.primary.existingSecret }}
- name: ORDERS_AI_PRIMARY_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.ai.primary.apiKeyKey }}
{{- end }}
{{- with $v.ai.secondary.existingSecret }}
- name: ORDERS_AI_SECONDARY_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.ai.secondary.apiKeyKey }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Downward-API environment and the OpenTelemetry resource attributes built from it.
*/}}
{{- define "orders.podEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ include "orders.resourceAttributes" . | quote }}
{{- end }}

{{- define "orders.resourceAttributes" -}}
{{- $attrs := list "k8s.pod.name=$(POD_NAME)" "k8s.namespace.name=$(POD_NAMESPACE)" "service.namespace=orders-pipeline" }}
{{- range $key, $value := .root.Values.telemetry.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%v" $key $value) }}
{{- end }}
{{- join "," $attrs }}
{{- end }}

{{/*
A consumer's pods beyond the partition count get no partition and never report ready, so a
rollout that surges past the count never finishes. Refuse such settings at render time.
*/}}
{{- define "orders.checkConsumerReplicas" -}}
{{- $svc := index .root.Values.services .name }}
{{- if has .name (splitList " " (include "orders.consumers" .root)) }}
{{- $most := int (ternary $svc.autoscaling.maxReplicas $svc.replicas $svc.autoscaling.enabled) }}
{{- $surge := div (add (mul $most 25) 99) 100 }}
{{- $partitions := int .root.Values.kafka.partitions }}
{{- if gt (add $most $surge) $partitions }}
{{- fail (printf "services.%s: up to %d replicas plus %d surged during a rollout exceed kafka.partitions (%d); pods without a partition never become ready and the rollout stalls. Lower replicas/maxReplicas or add partitions (docs/deploy.md, Scaling)." .name $most $surge $partitions) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A NetworkPolicyEgressRule from {to: [peers], ports: [ports]}; nothing when `to` is empty (an
empty `to` would allow every destination).
*/}}
{{- define "orders.egressRule" -}}
{{- if .to }}
- to:
    {{- toYaml .to | nindent 4 }}
  ports:
    {{- toYaml .ports | nindent 4 }}
{{- end }}
{{- end }}

{{/*
Environment of the migration job's containers: what a service reads from its ConfigMap, inline.
*/}}
{{- define "orders.migrateEnv" -}}
{{- range $key, $value := include "orders.configData" . | fromYaml }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{ include "orders.podEnv" . }}
{{ include "orders.secretEnv" . | trim }}
{{- with .root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
