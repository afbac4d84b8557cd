// The hand-written part of the Helm chart's values.schema.json (everything but config and secretRefs, which
// generate.ts adds from the knob table). Helm checks values against it on install, upgrade, lint and template.
const int = (minimum: number): Record<string, unknown> => ({ type: 'integer', minimum });
const str = { type: 'string' };
const obj = { type: 'object' };
const strMap = { type: 'object', additionalProperties: { type: 'string' } };

function closed(properties: Record<string, unknown>, required: string[] = []): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, properties, ...(required.length > 0 ? { required } : {}) };
}

export function valuesSchemaBase(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'klassify chart values',
    ...closed(
      {
        global: obj,
        nameOverride: str,
        fullnameOverride: str,
        image: closed({ repository: { type: 'string', minLength: 1 }, tag: str, pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] } }, ['repository']),
        imagePullSecrets: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'names of existing docker-registry Secrets' },
        replicaCount: int(0),
        inputPartitions: { ...int(1), description: 'partitions of the input topic(s), summed: the most replicas that get work' },
        resources: closed({ memoryBaseMi: int(64), memoryPerWorkerMi: int(32), cpuLimit: { type: 'boolean' } }),
        terminationGraceExtraSeconds: int(1),
        probes: closed({
          startup: closed({ periodSeconds: int(1), failureThreshold: int(1), timeoutSeconds: int(1) }),
          liveness: closed({ periodSeconds: int(1), failureThreshold: int(1), timeoutSeconds: int(1) }),
          readiness: closed({ periodSeconds: int(1), failureThreshold: int(1), timeoutSeconds: int(1) }),
        }),
        podAnnotations: strMap,
        podLabels: strMap,
        nodeSelector: strMap,
        tolerations: { type: 'array' },
        affinity: obj,
        extraEnv: { type: 'array', items: obj },
        service: closed({ type: { enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] }, port: { ...int(1), maximum: 65535 } }),
        serviceMonitor: closed({ enabled: { type: 'boolean' }, interval: str, scrapeTimeout: str, labels: strMap }),
        pdb: closed({ enabled: { type: 'boolean' }, maxUnavailable: { oneOf: [int(0), { type: 'string', pattern: '^[0-9]+%$' }] } }),
        keda: closed({
          enabled: { type: 'boolean' },
          minReplicas: int(0),
          maxReplicas: int(1),
          pollingInterval: int(1),
          cooldownPeriod: int(0),
          lagThreshold: int(1),
          activationLagThreshold: int(0),
          limitToPartitionsWithLag: { type: 'boolean' },
          behavior: obj,
        }),
        brands: closed({
          enabled: { type: 'boolean' },
          groupId: { type: 'string', minLength: 1 },
          args: { type: 'array', items: str, minItems: 1 },
          // One member per group: the monitor's state is one snapshot stream, a second would fence it.
          replicas: { ...int(1), maximum: 1, description: "one member per group: the monitor's state is one snapshot stream" },
          file: closed({ configMap: str, key: { type: 'string', minLength: 1 } }),
          resources: obj,
          probes: { type: 'boolean' },
        }),
      },
      ['image', 'inputPartitions', 'config'],
    ),
  };
}
