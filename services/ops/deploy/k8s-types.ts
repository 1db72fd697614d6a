// What the Kubernetes generator takes and makes (k8s.ts, k8s-jetstream.ts).

export interface K8sOptions {
  namespace: string;
  image: string;
  /** Replicas of each stateless component. */
  replicas: number;
  /** PersistentVolumeClaim holding the world: snapshots, models, event log. */
  worldClaim: string;
  /** The JetStream backend's broker image (default nats:2.10-alpine) and each broker pod's volume size (10Gi). */
  natsImage?: string;
  natsStorage?: string;
}

export type K8sObject = Record<string, unknown> & {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};
