//! Book-keeping of the worker loop: which records are in flight, the offset each partition may
//! commit (the oldest unfinished record bounds it), and the per-order queues that keep one order's
//! records strictly sequential while different orders run concurrently.
use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::Record;

/// A record allowed to run, with the assignment generation of its partition when it was read: a
/// record finishing after its partition was revoked (and perhaps assigned again) must not move the
/// new assignment's offsets.
pub(crate) type Ticket = (Record, u64);

/// In-flight records of the assigned partitions.
#[derive(Default)]
pub(crate) struct Progress {
    /// Per partition: its generation and offset → finished?
    partitions: HashMap<i32, (u64, BTreeMap<i64, bool>)>,
    /// Per record key: records waiting behind the one of that key in flight.
    chains: HashMap<Vec<u8>, VecDeque<Ticket>>,
    in_flight: usize,
    generation: u64,
}

impl Progress {
    /// Records read and not finished (running or queued behind their order).
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Starts tracking `record`. Returns it back when it may run now, or keeps it queued behind a
    /// running record of the same key.
    pub(crate) fn admit(&mut self, record: Record) -> Option<Ticket> {
        let generation = self.track(record.partition, record.offset);
        let key = record.key.clone().unwrap_or_default();
        match self.chains.get_mut(&key) {
            Some(queue) => {
                queue.push_back((record, generation));
                None
            }
            None => {
                self.chains.insert(key, VecDeque::new());
                Some((record, generation))
            }
        }
    }

    fn track(&mut self, partition: i32, offset: i64) -> u64 {
        let generation = self.generation;
        let (_, offsets) = self
            .partitions
            .entry(partition)
            .or_insert_with(|| (generation, BTreeMap::new()));
        offsets.insert(offset, false);
        self.in_flight += 1;
        generation
    }

    /// Marks a record finished that never ran (filtered out before processing). Returns the offset
    /// that may now be stored for its partition, if it advanced.
    pub(crate) fn skip(&mut self, partition: i32, offset: i64) -> Option<i64> {
        let generation = self.track(partition, offset);
        self.finish(partition, offset, generation)
    }

    /// Marks a record finished. Returns the last offset of the finished prefix of its partition when
    /// the prefix grew: everything up to and including it is done, so it may be stored.
    pub(crate) fn finish(&mut self, partition: i32, offset: i64, generation: u64) -> Option<i64> {
        // A revoked partition's new owner (maybe us again) starts from the committed offset.
        let (current, offsets) = self.partitions.get_mut(&partition)?;
        if *current != generation {
            return None;
        }
        match offsets.get_mut(&offset) {
            Some(done) if !*done => *done = true,
            _ => return None,
        }
        self.in_flight -= 1;
        let mut last = None;
        while let Some(entry) = offsets.first_entry() {
            if !*entry.get() {
                break;
            }
            last = Some(*entry.key());
            entry.remove();
        }
        last
    }

    /// The next record of `key` once the running one finished (or gave up), if any.
    pub(crate) fn next_of(&mut self, key: &[u8]) -> Option<Ticket> {
        let queue = self.chains.get_mut(key)?;
        match queue.pop_front() {
            Some(next) => Some(next),
            None => {
                self.chains.remove(key);
                None
            }
        }
    }

    /// Forgets revoked partitions: their records still running finish without storing offsets.
    pub(crate) fn revoke(&mut self, partitions: &[i32]) {
        self.generation += 1;
        for p in partitions {
            if let Some((_, offsets)) = self.partitions.remove(p) {
                self.in_flight -= offsets.values().filter(|done| !**done).count();
            }
        }
        for queue in self.chains.values_mut() {
            queue.retain(|(r, _)| !partitions.contains(&r.partition));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(partition: i32, offset: i64, key: &str) -> Record {
        Record {
            topic: "t".into(),
            partition,
            offset,
            key: Some(key.as_bytes().to_vec()),
            value: None,
            headers: vec![],
            timestamp_ms: None,
        }
    }

    #[test]
    fn offsets_advance_only_over_a_finished_prefix() {
        let mut p = Progress::default();
        assert!(p.admit(rec(0, 10, "a")).is_some());
        assert!(p.admit(rec(0, 11, "b")).is_some());
        assert!(p.admit(rec(0, 12, "c")).is_some());
        assert_eq!(p.finish(0, 11, 0), None, "10 is still running");
        assert_eq!(p.finish(0, 12, 0), None);
        assert_eq!(p.finish(0, 10, 0), Some(12), "10..=12 done at once");
        assert_eq!(p.in_flight(), 0);
    }

    #[test]
    fn one_key_runs_one_record_at_a_time_in_order() {
        let mut p = Progress::default();
        assert!(p.admit(rec(0, 1, "a")).is_some());
        assert!(p.admit(rec(0, 2, "a")).is_none(), "queued behind offset 1");
        assert!(p.admit(rec(0, 3, "a")).is_none());
        assert_eq!(p.finish(0, 1, 0), Some(1));
        assert_eq!(p.next_of(b"a").unwrap().0.offset, 2);
        assert_eq!(p.finish(0, 2, 0), Some(2));
        assert_eq!(p.next_of(b"a").unwrap().0.offset, 3);
        assert_eq!(p.finish(0, 3, 0), Some(3));
        assert!(p.next_of(b"a").is_none());
        assert!(
            p.admit(rec(0, 4, "a")).is_some(),
            "an idle key runs at once"
        );
    }

    #[test]
    fn skipped_records_count_as_finished_in_order() {
        let mut p = Progress::default();
        assert!(p.admit(rec(1, 5, "a")).is_some());
        assert_eq!(p.skip(1, 6), None, "5 still running");
        assert_eq!(p.finish(1, 5, 0), Some(6));
        assert_eq!(p.skip(1, 7), Some(7));
    }

    #[test]
    fn revoked_partitions_are_forgotten() {
        let mut p = Progress::default();
        assert!(p.admit(rec(2, 1, "a")).is_some());
        assert!(p.admit(rec(2, 2, "a")).is_none());
        assert!(p.admit(rec(3, 1, "b")).is_some());
        p.revoke(&[2]);
        assert_eq!(p.in_flight(), 1);
        assert_eq!(p.finish(2, 1, 0), None, "no offset for a revoked partition");
        assert!(p.next_of(b"a").is_none(), "its queued records are dropped");
        assert_eq!(p.finish(3, 1, 0), Some(1), "other partitions carry on");
    }

    #[test]
    fn a_late_finish_does_not_move_a_reassigned_partition() {
        let mut p = Progress::default();
        let (_, old) = p.admit(rec(2, 1, "a")).unwrap();
        p.revoke(&[2]);
        // Assigned again, from the committed offset 1: the same record is read again.
        assert!(p.admit(rec(2, 1, "b")).is_some());
        assert_eq!(p.finish(2, 1, old), None, "the old run does not count");
        assert_eq!(p.finish(2, 1, 1), Some(1));
    }
}
