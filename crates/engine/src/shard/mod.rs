//! Work split across hosts, with all shared state in S3. A tree is split by a stable hash of
//! each path ([`Shard::owns`]); one huge object by a plan ([`ShardPlan`]): a multipart upload
//! created once, its parts dealt to N workers in contiguous runs, each worker sending only its
//! own (skipping those ListParts already shows with the checksum it computes), and a finish
//! that combines the full-object CRC64NVME from the parts' CRCs and completes the upload.
//! The plan, and each worker's record of its parts, are small objects beside the target.

mod finish;
mod plan;
mod work;

pub use finish::FinishOutcome;
pub use plan::{PlanSource, PlanUpload, RecordedPart, ShardPlan, ShardRecord};
pub use work::{PlanWork, WorkOutcome};

pub(crate) use finish::finish;
pub(crate) use plan::{beside, create, remove_plan};
pub(crate) use work::work;

use ferry_s3::ChecksumAlgorithm;

use crate::checksum::Hasher;
use crate::error::Error;

/// The variables a worker's index comes from, in order: Kubernetes Indexed Jobs, AWS Batch
/// array jobs, Slurm job arrays (less `SLURM_ARRAY_TASK_MIN`, so an array `1-4` counts from 0).
pub const INDEX_VARIABLES: [&str; 3] = [
    "JOB_COMPLETION_INDEX",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "SLURM_ARRAY_TASK_ID",
];

/// One worker's share: index `index` (from 0) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This worker's index, from 0.
    pub index: u32,
    /// How many workers share the work.
    pub count: u32,
}

impl Shard {
    /// `I/N`, or `N` alone with the index taken from the environment ([`INDEX_VARIABLES`]).
    pub fn parse(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let bad = |why: String| Error::invalid(format!("{s:?} is not a shard: {why}"));
        let number = |v: &str, what: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| bad(format!("{what} {v:?} is not a whole number")))
        };
        let (index, count) = match s.split_once('/') {
            Some((i, n)) => (number(i, "the index")?, number(n, "the count")?),
            None => {
                let count = number(s, "the count")?;
                (Self::index_from(&env).map_err(bad)?, count)
            }
        };
        if count == 0 || index >= count {
            return Err(bad(format!(
                "the index must be below the count (0 to {}), and the count at least 1",
                count.saturating_sub(1)
            )));
        }
        Ok(Self { index, count })
    }

    /// The index the first set variable of [`INDEX_VARIABLES`] gives.
    fn index_from(env: &impl Fn(&str) -> Option<String>) -> Result<u32, String> {
        for name in INDEX_VARIABLES {
            let Some(v) = env(name) else { continue };
            let n: u32 = v
                .trim()
                .parse()
                .map_err(|_| format!("{name}={v:?} is not a whole number"))?;
            if name == "SLURM_ARRAY_TASK_ID"
                && let Some(min) = env("SLURM_ARRAY_TASK_MIN").and_then(|m| m.trim().parse().ok())
            {
                return n
                    .checked_sub(min)
                    .ok_or_else(|| format!("{name}={n} is below SLURM_ARRAY_TASK_MIN={min}"));
            }
            return Ok(n);
        }
        Err(format!(
            "no index: give I/N, or set one of {}",
            INDEX_VARIABLES.join(", ")
        ))
    }

    /// Which shard of `count` a path (below the folder, or the key below the prefix) belongs
    /// to: the CRC-32 (IEEE, as zlib's `crc32`) of its UTF-8 bytes, modulo `count`.
    pub fn of(rel: &str, count: u32) -> u32 {
        let mut h = Hasher::new(ChecksumAlgorithm::Crc32);
        h.update(rel.as_bytes());
        let raw = h.finish(rel.len() as u64).raw;
        let crc = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        crc % count.max(1)
    }

    /// Whether this shard takes `rel`.
    pub fn owns(&self, rel: &str) -> bool {
        Self::of(rel, self.count) == self.index
    }

    /// The parts (numbers from 1) of `parts` this shard sends: a contiguous run, the runs of
    /// all shards in order covering every part once.
    pub fn parts(&self, parts: u32) -> std::ops::RangeInclusive<u32> {
        let (i, n, p) = (
            u64::from(self.index),
            u64::from(self.count),
            u64::from(parts),
        );
        let first = i * p / n + 1;
        let last = (i + 1) * p / n;
        first as u32..=last as u32
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_zlibs_crc32_modulo_the_count() {
        // zlib.crc32(b"a.txt") == 0xc1ebf7ba (Python), and of b"" is 0.
        assert_eq!(Shard::of("a.txt", 1000), 0xc1eb_f7ba % 1000);
        assert_eq!(Shard::of("", 4), 0);
        let n = 4;
        let mut seen = [0u32; 4];
        for i in 0..400 {
            seen[Shard::of(&format!("f{i:03}.bin"), n) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 60), "{seen:?}");
    }

    #[test]
    fn runs_of_parts_cover_every_part_once() {
        for (parts, count) in [(1, 1), (7, 3), (10_000, 4), (3, 4), (205, 4)] {
            let mut all = Vec::new();
            for index in 0..count {
                all.extend(Shard { index, count }.parts(parts));
            }
            assert_eq!(
                all,
                (1..=parts).collect::<Vec<_>>(),
                "{parts} parts, {count} shards"
            );
        }
    }

    #[test]
    fn the_index_comes_from_the_flag_or_the_first_variable_set() {
        let none = |_: &str| None;
        assert_eq!(
            Shard::parse("2/4", none).unwrap(),
            Shard { index: 2, count: 4 }
        );
        assert!(Shard::parse("4/4", none).is_err());
        assert!(Shard::parse("0/0", none).is_err());
        assert!(
            Shard::parse("4", none)
                .unwrap_err()
                .to_string()
                .contains("JOB_COMPLETION_INDEX")
        );
        let k8s = |k: &str| (k == "JOB_COMPLETION_INDEX").then(|| "3".to_string());
        assert_eq!(Shard::parse("4", k8s).unwrap().index, 3);
        let slurm = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some("5".to_string()),
            "SLURM_ARRAY_TASK_MIN" => Some("4".to_string()),
            _ => None,
        };
        assert_eq!(Shard::parse("4", slurm).unwrap().index, 1);
    }
}
