/**
 * A Jepsen-style checker for one load-test run: what the gateway acknowledged against what
 * each sink holds. Pure set logic; bench/sinks.ts reads the sinks.
 *
 * Every request ends in one of three outcomes:
 * - acknowledged (2xx): the answer names event ids; each must be in every sink exactly once.
 * - refused (4xx): the API promises nothing was produced; none of its events may appear.
 * - indeterminate (no answer: timeout, connection error, still in flight when the run ended;
 *   or 5xx / a 207 entry marked failed, where Kafka may have written the record anyway):
 *   its events may appear or not, but at most once.
 *
 * Per sink:
 * - lost: acknowledged ids that are not there;
 * - duplicates: ids present more than once (for ClickHouse, counted on the deduplicated view:
 *   `FINAL`; copies that only the raw table shows are merge-pending and reported apart);
 * - unexpected: ids present that were never acknowledged, each traced back to its request by
 *   the sequence number the load generator put into the event; from an indeterminate request
 *   they are allowed, otherwise (refused request, or no request of this run) they are phantoms.
 * The run passes when every sink has lost = duplicates = phantoms = 0.
 */

export type Outcome = 'acknowledged' | 'refused' | 'indeterminate';

/** What an HTTP status (0 = no answer) says about the events of its request. */
export function outcomeOf(status: number): Outcome {
  if (status >= 200 && status < 300) return 'acknowledged';
  if (status >= 400 && status < 500) return 'refused';
  return 'indeterminate';
}

export interface SinkObservation {
  /** Copies per event id as the sink's exact view shows them (PostgreSQL rows; ClickHouse FINAL). */
  copies: Map<string, number>;
  /** Copies per event id in the raw storage, when it can differ (ClickHouse without FINAL). */
  rawCopies?: Map<string, number>;
  /** The request sequence number each present id was generated in, when it can be read back. */
  traceOf: (eventId: string) => number | undefined;
}

export interface SinkVerdict {
  expected: number;
  present: number;
  lost: number;
  duplicates: number;
  /** Ids present more than once in the raw table only (ClickHouse: not merged yet). Informational. */
  mergePendingDuplicates: number;
  rawRows: number;
  unexpectedIndeterminate: number;
  phantoms: number;
  ok: boolean;
  /** A few ids of each problem, for the report. */
  samples: { lost: string[]; duplicates: string[]; phantoms: string[] };
}

const SAMPLE = 5;

/**
 * @param acknowledged ids the gateway acknowledged that belong in this sink
 * @param outcomeOfRequest the outcome of request `seq`, or undefined when this run sent no such request
 */
export function checkSink(
  acknowledged: ReadonlySet<string>,
  observed: SinkObservation,
  outcomeOfRequest: (seq: number) => Outcome | undefined,
): SinkVerdict {
  const lost: string[] = [];
  for (const id of acknowledged) if (!observed.copies.has(id)) lost.push(id);

  const duplicates: string[] = [];
  const phantoms: string[] = [];
  let unexpectedIndeterminate = 0;
  for (const [id, n] of observed.copies) {
    if (n > 1) duplicates.push(id);
    if (acknowledged.has(id)) continue;
    const seq = observed.traceOf(id);
    const outcome = seq === undefined ? undefined : outcomeOfRequest(seq);
    // An id from an acknowledged request that the answer did not name is as wrong as one from
    // a refused request: the client was told something else.
    if (outcome === 'indeterminate') unexpectedIndeterminate++;
    else phantoms.push(id);
  }

  let mergePending = 0;
  let rawRows = 0;
  for (const [id, n] of observed.rawCopies ?? observed.copies) {
    rawRows += n;
    if (n > 1 && (observed.copies.get(id) ?? 0) <= 1) mergePending++;
  }

  return {
    expected: acknowledged.size,
    present: observed.copies.size,
    lost: lost.length,
    duplicates: duplicates.length,
    mergePendingDuplicates: mergePending,
    rawRows,
    unexpectedIndeterminate,
    phantoms: phantoms.length,
    ok: lost.length === 0 && duplicates.length === 0 && phantoms.length === 0,
    samples: { lost: lost.slice(0, SAMPLE), duplicates: duplicates.slice(0, SAMPLE), phantoms: phantoms.slice(0, SAMPLE) },
  };
}

export interface CounterVerdict {
  /** Fields (URLs) checked. */
  fields: number;
  /** Fields whose count is below the acknowledged events: increments lost. */
  under: number;
  /** Fields whose count is above acknowledged plus indeterminate events: counted twice or phantoms. */
  over: number;
  ok: boolean;
  samples: { field: string; expected: number; allowedExtra: number; observed: number }[];
}

/**
 * Counters that must count each event once (Redis page views per URL): acknowledged <= observed
 * <= acknowledged + indeterminate, per field.
 */
export function checkCounters(
  acknowledged: ReadonlyMap<string, number>,
  indeterminate: ReadonlyMap<string, number>,
  observed: ReadonlyMap<string, number>,
): CounterVerdict {
  const fields = new Set([...acknowledged.keys(), ...indeterminate.keys(), ...observed.keys()]);
  let under = 0;
  let over = 0;
  const samples: CounterVerdict['samples'] = [];
  for (const f of fields) {
    const expected = acknowledged.get(f) ?? 0;
    const allowedExtra = indeterminate.get(f) ?? 0;
    const got = observed.get(f) ?? 0;
    const bad = got < expected ? (under++, true) : got > expected + allowedExtra ? (over++, true) : false;
    if (bad && samples.length < SAMPLE) samples.push({ field: f, expected, allowedExtra, observed: got });
  }
  return { fields: fields.size, under, over, ok: under === 0 && over === 0, samples };
}
