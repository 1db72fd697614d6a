// The gRPC service config of a client channel: round robin over every address its target resolves
// to and, for a target that can name several replicas (dns:, ipv4:, ipv6:), one retry of a read
// refused with UNAVAILABLE, which round robin sends to the next replica. A replica killed mid-call (ECONNRESET)
// or shedding load (its message says to retry on another replica) then costs one retry, not the call.

/** Methods that only read, so that a second attempt cannot do anything twice. */
const RETRYABLE_READS = [
  { service: 'feedloom.v1.CandidateGenerator' },
  { service: 'feedloom.v1.Ranker' },
  { service: 'feedloom.v1.ViewerModel' },
  { service: 'feedloom.v1.AnnSearch' },
  { service: 'feedloom.v1.Blender', method: 'Blend' },
  { service: 'feedloom.v1.Events', method: 'GetUserContext' },
];

/** The service config for a channel to `address` (host:port, or a target such as dns:///name:port). */
export function serviceConfigFor(address: string) {
  const roundRobin = { loadBalancingConfig: [{ round_robin: {} }] };
  // host:port is one server: a retry would only ask the same one again.
  if (!/^(dns|ipv4|ipv6):/.test(address)) return roundRobin;
  return {
    ...roundRobin,
    methodConfig: [
      {
        name: RETRYABLE_READS,
        retryPolicy: {
          maxAttempts: 2,
          initialBackoff: '0.01s',
          maxBackoff: '0.05s',
          backoffMultiplier: 2,
          retryableStatusCodes: ['UNAVAILABLE'],
        },
      },
    ],
    // Retries stop while most calls fail (every replica down or shedding): no retry storm.
    retryThrottling: { maxTokens: 10, tokenRatio: 0.1 },
  };
}
