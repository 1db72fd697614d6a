import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Server } from '@grpc/grpc-js';

// Reflection reads the descriptor set protoc wrote (not proto-loader's re-parse of .proto files,
// which misnames map-entry types and breaks real reflection clients).
const descriptorSetPath = fileURLToPath(new URL('../../generated/descriptor.pb', import.meta.url));
let packageDefinition: protoLoader.PackageDefinition | undefined;

function loadPackageDefinition(): protoLoader.PackageDefinition {
  packageDefinition ??= protoLoader.loadFileDescriptorSetFromBuffer(readFileSync(descriptorSetPath), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return packageDefinition;
}

/** Adds server reflection (v1 and v1alpha) listing exactly the given fully-qualified services. */
export function addReflection(server: Server, serviceNames: string[]): void {
  new ReflectionService(loadPackageDefinition(), { services: serviceNames }).addToServer(server);
}
