/**
 * File descriptors that protoc-built tools accept, for server reflection. @grpc/proto-loader
 * describes a map field's entry message as `Parameters` where protoc names it
 * `ParametersEntry`, and refers to types by relative names; Go's descriptor checks (grpcurl,
 * buf curl) refuse the first ("invalid map: incorrect implicit map entry name") and so every
 * service of the file. This rewrites each descriptor as protoc would have written it: map
 * entries named `<Field>Entry`, every type reference fully qualified.
 */
import { status, type ServerDuplexStream, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import descriptor, { type IDescriptorProto, type IFileDescriptorProto } from 'protobufjs/ext/descriptor/index.js';

const TYPE_MESSAGE = 11;
const LABEL_REPEATED = 3;

/** protoc's name for a map field's entry message: `parameters` → `ParametersEntry`, `foo_bar` → `FooBarEntry`. */
export function mapEntryName(field: string): string {
  return `${field
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('')}Entry`;
}

/** Every message and enum the file defines, by full name with a leading dot. */
function definedNames(file: IFileDescriptorProto): Set<string> {
  const names = new Set<string>();
  const pkg = file.package ? `.${file.package}` : '';
  const walk = (messages: readonly IDescriptorProto[], scope: string): void => {
    for (const m of messages) {
      const name = `${scope}.${m.name}`;
      names.add(name);
      for (const e of m.enumType ?? []) names.add(`${name}.${e.name}`);
      walk(m.nestedType ?? [], name);
    }
  };
  for (const e of file.enumType ?? []) names.add(`${pkg}.${e.name}`);
  walk(file.messageType ?? [], pkg);
  return names;
}

/** A relative type name resolved as protoc resolves it: from the innermost scope outwards. */
function qualify(name: string | undefined | null, scope: string, defined: ReadonlySet<string>): string | undefined {
  if (!name || name.startsWith('.')) return name ?? undefined;
  for (let at = scope; ; at = at.slice(0, Math.max(0, at.lastIndexOf('.')))) {
    const candidate = `${at}.${name}`;
    if (defined.has(candidate)) return candidate;
    if (at === '') return `.${name}`;
  }
}

/** One serialized FileDescriptorProto, rewritten as protoc writes it. */
export function protocDescriptor(bin: Uint8Array): Buffer {
  const file = descriptor.FileDescriptorProto.toObject(descriptor.FileDescriptorProto.decode(bin)) as IFileDescriptorProto;
  // Map entries first: their new names are what the references below resolve to.
  const renameEntries = (messages: readonly IDescriptorProto[]): void => {
    for (const m of messages) {
      for (const nested of m.nestedType ?? []) {
        if (!nested.options?.mapEntry) continue;
        const field = (m.field ?? []).find((f) => f.label === LABEL_REPEATED && f.type === TYPE_MESSAGE && f.typeName === nested.name);
        if (!field?.name) continue;
        nested.name = mapEntryName(field.name);
        field.typeName = nested.name;
      }
      renameEntries((m.nestedType ?? []).filter((n) => !n.options?.mapEntry));
    }
  };
  renameEntries(file.messageType ?? []);
  const defined = definedNames(file);
  const pkg = file.package ? `.${file.package}` : '';
  const resolve = (messages: readonly IDescriptorProto[], scope: string): void => {
    for (const m of messages) {
      const name = `${scope}.${m.name}`;
      for (const f of [...(m.field ?? []), ...(m.extension ?? [])]) {
        const typeName = qualify(f.typeName, name, defined);
        if (typeName !== undefined) f.typeName = typeName;
      }
      resolve(m.nestedType ?? [], name);
    }
  };
  resolve(file.messageType ?? [], pkg);
  for (const service of file.service ?? []) {
    for (const method of service.method ?? []) {
      method.inputType = qualify(method.inputType, pkg, defined) ?? '';
      method.outputType = qualify(method.outputType, pkg, defined) ?? '';
    }
  }
  return Buffer.from(descriptor.FileDescriptorProto.encode(descriptor.FileDescriptorProto.fromObject(file)).finish());
}

/** The package definition with every file descriptor rewritten (for ReflectionService; the services keep the loader's own). */
export function reflectionDefinition(definition: PackageDefinition): PackageDefinition {
  const rewritten = new Map<string, Buffer>();
  const rewrite = (bin: Buffer): Buffer => {
    const key = bin.toString('base64');
    if (!rewritten.has(key)) rewritten.set(key, protocDescriptor(bin));
    return rewritten.get(key)!;
  };
  return Object.fromEntries(
    Object.entries(definition).map(([name, def]) => [name, 'fileDescriptorProtos' in def && Array.isArray(def.fileDescriptorProtos) ? { ...def, fileDescriptorProtos: def.fileDescriptorProtos.map(rewrite) } : def]),
  ) as PackageDefinition;
}

/** What a request that does not parse is handed to the handler as, instead of a throw inside grpc-js. */
const MALFORMED = Symbol('malformed request');

interface ServiceRegistry {
  addService(definition: ServiceDefinition, implementation: UntypedServiceImplementation): void;
}

/**
 * Register a service whose bidirectional streams must each end with a status, whatever the
 * client sends (here @grpc/reflection's, which attaches no error handling): a message that
 * does not parse ends its stream at once with INVALID_ARGUMENT. Left to grpc-js, such a
 * message after valid ones could leave the stream open until the client's deadline.
 */
export function addGuardedService(server: ServiceRegistry, add: (registry: ServiceRegistry) => void): void {
  add({
    addService(definition, implementation) {
      const guarded = Object.fromEntries(
        Object.entries(definition).map(([name, method]) => [
          name,
          {
            ...method,
            requestDeserialize: (bytes: Buffer): unknown => {
              try {
                return method.requestDeserialize(bytes);
              } catch {
                return MALFORMED;
              }
            },
          },
        ]),
      ) as ServiceDefinition;
      const handlers = Object.fromEntries(
        Object.entries(implementation).map(([name, handler]) => [
          name,
          (stream: ServerDuplexStream<unknown, unknown>): void => {
            let failed = false;
            const on = stream.on.bind(stream);
            // Every 'data' listener the service attaches sees parsed messages only.
            stream.on = ((event: string, listener: (...args: unknown[]) => void) =>
              event === 'data'
                ? on('data', (message: unknown) => {
                    if (failed) return;
                    if (message !== MALFORMED) return listener(message);
                    failed = true;
                    // grpc-js turns a stream's 'error' into its status, after what was written.
                    stream.emit('error', Object.assign(new Error('the request message does not parse'), { code: status.INVALID_ARGUMENT }));
                  })
                : on(event, listener)) as typeof stream.on;
            (handler as (s: ServerDuplexStream<unknown, unknown>) => void)(stream);
          },
        ]),
      ) as UntypedServiceImplementation;
      server.addService(guarded, handlers);
    },
  });
}
