import type { ObjectStore } from "./object-store.js";

/**
 * The connection registry: one S3 object per open connection, keyed by
 * prefix + base64url(connection id). Connection ids contain `+ / =` and mixed case; base64url keeps
 * keys free of `/` (no accidental "folders") and of characters that need escaping.
 *
 * This module registers and removes one connection ($connect, $disconnect) through an
 * ObjectStore (object-store.ts: signed requests, no S3 client); registry.ts lists and prunes the
 * registry for the dispatchers.
 */

/** The body of a connection's object. */
export interface RegistryEntry {
  readonly connectionId: string;
  /** ISO 8601. */
  readonly connectedAt: string;
  readonly sourceIp?: string;
}

export function connectionKey(prefix: string, connectionId: string): string {
  return prefix + Buffer.from(connectionId, "utf8").toString("base64url");
}

/** The connection id a key holds, or undefined for a key this registry did not write. */
export function connectionIdFromKey(prefix: string, key: string): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const encoded = key.slice(prefix.length);
  if (encoded === "" || !/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  const connectionId = Buffer.from(encoded, "base64url").toString("utf8");
  // Only keys that round-trip are ours: anything else (a stray upload) is not a connection.
  return connectionKey(prefix, connectionId) === key ? connectionId : undefined;
}

export class Registrations {
  constructor(
    private readonly store: ObjectStore,
    readonly prefix: string,
  ) {}

  /** Registers a connection. One PutObject: it either stores the whole object or nothing. */
  add(entry: RegistryEntry): Promise<void> {
    return this.store.put(
      connectionKey(this.prefix, entry.connectionId),
      JSON.stringify(entry),
      "application/json",
    );
  }

  /** Removes a connection; removing one that is not there succeeds (S3 deletes are idempotent). */
  remove(connectionId: string): Promise<void> {
    return this.store.remove(connectionKey(this.prefix, connectionId));
  }
}
