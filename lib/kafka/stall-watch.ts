/**
 * When a consumer-group member suspects that librdkafka stopped fetching one of its partitions.
 *
 * librdkafka can leave an assigned partition without fetches and say nothing: librdkafka issues
 * #5591 (a pause around an assignment left in place) and #2190 (an assignment's fetch start lost
 * to a pause right after it) describe ways in. The partition just stops. So a member watches
 * for a partition that got no record for a while, although librdkafka's queue ran empty well
 * after its last one (a healthy fetcher would have handed over anything the partition had by
 * then), and then asks the broker whether records are waiting there (`probeDue`). If they are
 * at two probes in a row, at the same offset (`judge`), the member resumes and seeks the
 * partition to the next record it expects, which restarts librdkafka's fetcher from there.
 */

/** A partition as the watch sees it. */
export interface WatchedPartition {
  /** When its last record was handed over (or it was assigned). */
  lastRecordAt: number;
  /** When the broker was last asked about it. */
  probedAt: number;
}

/**
 * True when the partition should be probed now: silent for `stallAfterMs`, librdkafka's queue
 * found empty at least `stallAfterMs / 2` after its last record, and not probed in the last
 * `stallAfterMs` (an idle topic costs a request per partition per period, no more). 0 turns the
 * watch off.
 */
export function probeDue(p: WatchedPartition, drainedAt: number, now: number, stallAfterMs: number): boolean {
  if (stallAfterMs <= 0) return false;
  return now - p.lastRecordAt >= stallAfterMs && drainedAt - p.lastRecordAt >= stallAfterMs / 2 && now - p.probedAt >= stallAfterMs;
}

/** What one probe makes of a partition. */
export type Verdict = 'clear' | 'suspect' | 'stalled';

/**
 * Whether records wait from `next` (the next offset the member expects) on: `high` is the
 * partition's high watermark, the offset after its last record.
 * - `suspect` the first time they do, `stalled` when the previous probe found them waiting at the
 *   same `next` (`suspectAt`): records that reached the broker just before a probe may sit in a
 *   fetch the broker holds back (fetch.wait.max.ms); only records still waiting a whole period
 *   later make a stall.
 * - `clear` at `healedAt`, the `next` of the partition's last restart (-1 before one): offsets may
 *   hold nothing to hand over (a transaction marker), and a second seek to the same place would
 *   not change what the first one did not.
 */
export function judge(next: number, high: number, p: { healedAt: number; suspectAt: number }): Verdict {
  if (next < 0 || high <= next || next === p.healedAt) return 'clear';
  return p.suspectAt === next ? 'stalled' : 'suspect';
}
