import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clickhouseDatabase, ConfigError, loadCommonConfig, readBrokers, readInt, readName, readUrl } from './config.ts';

/** Asserts `fn` throws a ConfigError for `variable` whose message starts with the variable name. */
function assertConfigError(fn: () => unknown, variable: string, reason?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.name, 'ConfigError');
    assert.equal(err.variable, variable);
    assert.ok(err.message.startsWith(`${variable}: `), err.message);
    if (reason) assert.match(err.message, reason);
    return true;
  });
}

describe('loadCommonConfig', () => {
  it('uses the defaults for an empty environment', () => {
    assert.deepEqual(loadCommonConfig({}), {
      kafkaBrokers: ['127.0.0.1:9092'],
      kafkaSecurity: { protocol: 'plaintext' },
      topicPrefix: '',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/ferry',
      redisUrl: 'redis://127.0.0.1:6379/0',
      redisPrefix: 'ferry:',
      clickhouseUrl: 'http://127.0.0.1:8123/ferry',
      queueRedisUrl: 'redis://127.0.0.1:6380',
      logLevel: 'info',
    });
  });

  it('reads every variable', () => {
    const cfg = loadCommonConfig({
      KAFKA_BROKERS: 'k1:9092, k2.example:19092',
      FERRY_TOPIC_PREFIX: 'staging.',
      DATABASE_URL: 'postgresql://u:p@db:5433/x',
      REDIS_URL: 'rediss://cache:6380/2',
      REDIS_PREFIX: 'f2:',
      CLICKHOUSE_URL: 'https://ch:8443/events',
      QUEUE_REDIS_URL: 'redis://queue:6390',
      LOG_LEVEL: 'debug',
    });
    assert.deepEqual(cfg, {
      kafkaBrokers: ['k1:9092', 'k2.example:19092'],
      kafkaSecurity: { protocol: 'plaintext' },
      topicPrefix: 'staging.',
      databaseUrl: 'postgresql://u:p@db:5433/x',
      redisUrl: 'rediss://cache:6380/2',
      redisPrefix: 'f2:',
      clickhouseUrl: 'https://ch:8443/events',
      queueRedisUrl: 'redis://queue:6390',
      logLevel: 'debug',
    });
  });

  it('treats an empty variable as unset', () => {
    // Empty values fall back to the default (readString), so KAFKA_BROKERS='' does NOT throw.
    const cfg = loadCommonConfig({ KAFKA_BROKERS: '', LOG_LEVEL: '', DATABASE_URL: '' });
    assert.deepEqual(cfg.kafkaBrokers, ['127.0.0.1:9092']);
    assert.equal(cfg.logLevel, 'info');
    assert.equal(cfg.databaseUrl, 'postgres://postgres@127.0.0.1:5432/ferry');
  });

  it('rejects bad KAFKA_BROKERS', () => {
    assertConfigError(() => loadCommonConfig({ KAFKA_BROKERS: 'localhost' }), 'KAFKA_BROKERS', /"localhost" is not host:port/);
    assertConfigError(() => loadCommonConfig({ KAFKA_BROKERS: 'k1:9092,k2' }), 'KAFKA_BROKERS', /"k2" is not host:port/);
    assertConfigError(() => loadCommonConfig({ KAFKA_BROKERS: 'http://k1:9092' }), 'KAFKA_BROKERS');
    for (const blank of [' ', ',', ' , ']) {
      assertConfigError(() => loadCommonConfig({ KAFKA_BROKERS: blank }), 'KAFKA_BROKERS', /at least one host:port/);
    }
  });

  it('rejects a DATABASE_URL with another protocol, or that is no URL', () => {
    assertConfigError(() => loadCommonConfig({ DATABASE_URL: 'mysql://db/ferry' }), 'DATABASE_URL', /postgres: or postgresql:, got mysql:/);
    assertConfigError(() => loadCommonConfig({ DATABASE_URL: 'db:5432/ferry' }), 'DATABASE_URL');
    assertConfigError(() => loadCommonConfig({ DATABASE_URL: 'not a url' }), 'DATABASE_URL', /must be a URL/);
  });

  it('rejects REDIS_URL and CLICKHOUSE_URL with the wrong protocol', () => {
    assertConfigError(() => loadCommonConfig({ REDIS_URL: 'http://cache:6379' }), 'REDIS_URL');
    assertConfigError(() => loadCommonConfig({ CLICKHOUSE_URL: 'tcp://ch:9000/ferry' }), 'CLICKHOUSE_URL');
  });

  it('rejects a bad LOG_LEVEL', () => {
    for (const level of ['verbose', 'INFO']) {
      assertConfigError(() => loadCommonConfig({ LOG_LEVEL: level }), 'LOG_LEVEL', /one of fatal, error/);
    }
  });

  it('rejects a bad REDIS_PREFIX and FERRY_TOPIC_PREFIX', () => {
    assertConfigError(() => loadCommonConfig({ REDIS_PREFIX: 'a b' }), 'REDIS_PREFIX');
    assertConfigError(() => loadCommonConfig({ FERRY_TOPIC_PREFIX: 'a/b' }), 'FERRY_TOPIC_PREFIX');
  });
});

describe('readInt', () => {
  it('returns the fallback when unset or empty', () => {
    assert.equal(readInt({}, 'PORT', 8080, 1, 65535), 8080);
    assert.equal(readInt({ PORT: '' }, 'PORT', 8080, 1, 65535), 8080);
  });

  it('parses whole numbers, including the bounds', () => {
    assert.equal(readInt({ PORT: '1' }, 'PORT', 8080, 1, 65535), 1);
    assert.equal(readInt({ PORT: '65535' }, 'PORT', 8080, 1, 65535), 65535);
    assert.equal(readInt({ PORT: ' 443 ' }, 'PORT', 8080, 1, 65535), 443);
    assert.equal(readInt({ N: '-5' }, 'N', 0, -10, 10), -5);
  });

  it('rejects what is not a whole number', () => {
    for (const raw of ['80a', '8.5', '1e3', 'eighty', ' ', '0x50']) {
      assertConfigError(() => readInt({ PORT: raw }, 'PORT', 8080, 1, 65535), 'PORT', /must be a whole number/);
    }
  });

  it('rejects values out of range', () => {
    assertConfigError(() => readInt({ PORT: '0' }, 'PORT', 8080, 1, 65535), 'PORT', /between 1 and 65535, got 0/);
    assertConfigError(() => readInt({ PORT: '65536' }, 'PORT', 8080, 1, 65535), 'PORT', /got 65536/);
    assertConfigError(() => readInt({ N: '-1' }, 'N', 5), 'N', /between 0 and/);
    assertConfigError(() => readInt({ N: '99999999999999999999' }, 'N', 5), 'N', /between/);
  });
});

describe('readUrl, readBrokers, readName', () => {
  it('returns the raw value unchanged', () => {
    assert.equal(readUrl({ U: 'http://h:1/p?q' }, 'U', 'http://d', ['http:']), 'http://h:1/p?q');
    assert.equal(readUrl({}, 'U', 'http://d', ['http:']), 'http://d');
  });

  it('splits and trims brokers', () => {
    assert.deepEqual(readBrokers({ B: ' a:1 ,b-c.d_e:65535,,' }, 'B', 'x:1'), ['a:1', 'b-c.d_e:65535']);
    assertConfigError(() => readBrokers({ B: 'a:123456' }, 'B', 'x:1'), 'B');
  });

  it('allows only Kafka name characters', () => {
    assert.equal(readName({ T: 'ok.name_1-x' }, 'T', ''), 'ok.name_1-x');
    assertConfigError(() => readName({ T: 'bad name' }, 'T', ''), 'T');
  });
});

describe('clickhouseDatabase', () => {
  it('takes the database from the URL path', () => {
    assert.equal(clickhouseDatabase('http://h:8123/ferry_x'), 'ferry_x');
    assert.equal(clickhouseDatabase('https://u:p@h:8443/_Db9?x=1'), '_Db9');
  });

  it('defaults to ferry without a path', () => {
    assert.equal(clickhouseDatabase('http://h:8123'), 'ferry');
    assert.equal(clickhouseDatabase('http://h:8123/'), 'ferry');
  });

  it('rejects a path that is not an identifier', () => {
    for (const url of ['http://h:8123/ferry-x', 'http://h:8123/1db', 'http://h:8123/a/b', 'http://h:8123/a%20b']) {
      assertConfigError(() => clickhouseDatabase(url), 'CLICKHOUSE_URL', /must be an identifier/);
    }
  });
});
