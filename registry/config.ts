import { type CommonConfig, loadCommonConfig, readInt, readString } from '../lib/config.ts';

export interface RegistryConfig extends Pick<CommonConfig, 'topicPrefix' | 'logLevel'> {
  /** Address to listen on. @defaultValue `127.0.0.1` (REGISTRY_HOST) */
  host: string;
  /**
   * Port. Confluent's registry uses 8081, which is the edge gateway's here, so it is not the
   * default: point clients at this one. @defaultValue 8091 (REGISTRY_PORT)
   */
  port: number;
}

export function loadRegistryConfig(env: Record<string, string | undefined> = process.env): RegistryConfig {
  const { topicPrefix, logLevel } = loadCommonConfig(env);
  return {
    topicPrefix,
    logLevel,
    host: readString(env, 'REGISTRY_HOST', '127.0.0.1'),
    port: readInt(env, 'REGISTRY_PORT', 8091, 1, 65535),
  };
}
