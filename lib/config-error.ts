/** A bad configuration value: names the variable and what is wrong with it, never the value of a secret. */
export class ConfigError extends Error {
  constructor(readonly variable: string, reason: string) {
    super(`${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}
