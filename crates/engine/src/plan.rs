//! Part planning: an object size and the user's settings to part sizes within S3's limits.
//! Pure and property-tested; knows nothing of I/O.

use crate::limits::{MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE};

const MIB: u64 = 1024 * 1024;

/// Part size used when the user gives none and the object is small enough: 16 MiB.
pub const DEFAULT_PART_SIZE: u64 = 16 * MIB;
/// Below this size an upload is one PutObject: 16 MiB.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 16 * MIB;

/// The first part size of a stream of unknown length: 8 MiB.
pub const STREAM_FIRST_PART: u64 = 8 * MIB;
/// A stream's part size doubles after this many parts (up to 5 GiB), so a stream of unknown
/// length can reach about 46 TiB in 10,000 parts; only a known size (or `--expected-size`)
/// reaches the full 48.8 TiB, with 10,000 parts of 5 GiB.
pub const STREAM_DOUBLING_PARTS: u32 = 64;

/// How to plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanConfig {
    /// A part size the user chose: never changed, checked.
    pub part_size: Option<u64>,
    /// Objects smaller than this go in one PutObject.
    pub multipart_threshold: u64,
    /// The largest object allowed (AWS: 48.8 TiB; many S3-compatible servers: 5 TiB).
    pub max_object_size: u64,
}

impl Default for PlanConfig {
    fn default() -> Self {
        Self {
            part_size: None,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            max_object_size: MAX_OBJECT_SIZE,
        }
    }
}

/// A plan for an object of known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// One PutObject.
    Single {
        /// The object's size.
        size: u64,
    },
    /// A multipart upload of `parts` parts of `part_size` (the last one shorter).
    Multipart {
        /// The object's size.
        size: u64,
        /// Size of every part but the last.
        part_size: u64,
        /// Number of parts.
        parts: u32,
    },
}

impl Plan {
    /// The object's size.
    pub fn size(&self) -> u64 {
        match *self {
            Plan::Single { size } | Plan::Multipart { size, .. } => size,
        }
    }

    /// Offset and length of part `n` (1-based) of a multipart plan.
    pub fn part_range(&self, n: u32) -> (u64, u64) {
        match *self {
            Plan::Single { size } => (0, size),
            Plan::Multipart {
                size, part_size, ..
            } => {
                let offset = (n as u64 - 1) * part_size;
                (offset, part_size.min(size - offset))
            }
        }
    }
}

/// Why no plan fits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The part size is outside 5 MiB to 5 GiB.
    #[error(
        "part size {size} bytes is outside S3's limits (5 MiB to 5 GiB); choose a size between 5MiB and 5GiB"
    )]
    PartSizeOutOfLimits {
        /// The size given.
        size: u64,
    },
    /// The user's part size needs more than 10,000 parts.
    #[error(
        "part size {part_size} bytes needs {parts} parts for {size} bytes, over S3's 10,000; the smallest part size that works is {smallest} bytes ({} MiB)", smallest / MIB
    )]
    TooManyParts {
        /// The part size given.
        part_size: u64,
        /// The parts it would need.
        parts: u64,
        /// The object's size.
        size: u64,
        /// The smallest part size that fits, in whole MiB.
        smallest: u64,
    },
    /// The object is over the maximum object size.
    #[error(
        "{size} bytes is over the largest object allowed ({max} bytes); the store cannot hold it as one object: split it"
    )]
    ObjectTooLarge {
        /// The object's size.
        size: u64,
        /// The limit.
        max: u64,
    },
}

/// The smallest part size in whole MiB (and at least 5 MiB) that fits `size` in 10,000 parts.
pub fn smallest_part_size(size: u64) -> u64 {
    let need = size.div_ceil(MAX_PARTS as u64);
    need.div_ceil(MIB)
        .max(1)
        .saturating_mul(MIB)
        .max(MIN_PART_SIZE)
}

/// Checks a part size the user gave against S3's limits.
pub fn check_part_size(part_size: u64) -> Result<(), PlanError> {
    if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
        return Err(PlanError::PartSizeOutOfLimits { size: part_size });
    }
    Ok(())
}

/// Plans an object of known size.
pub fn plan(size: u64, cfg: &PlanConfig) -> Result<Plan, PlanError> {
    if let Some(ps) = cfg.part_size {
        check_part_size(ps)?;
    }
    if size > cfg.max_object_size {
        return Err(PlanError::ObjectTooLarge {
            size,
            max: cfg.max_object_size,
        });
    }
    // An explicit part size at or above the object's size also means one request.
    let single_below = match cfg.part_size {
        Some(ps) => cfg.multipart_threshold.min(ps.saturating_add(1)),
        None => cfg.multipart_threshold,
    };
    if size < single_below || size == 0 {
        return Ok(Plan::Single { size });
    }
    let part_size = match cfg.part_size {
        Some(ps) => {
            let parts = size.div_ceil(ps);
            if parts > MAX_PARTS as u64 {
                return Err(PlanError::TooManyParts {
                    part_size: ps,
                    parts,
                    size,
                    smallest: smallest_part_size(size),
                });
            }
            ps
        }
        None => DEFAULT_PART_SIZE.max(smallest_part_size(size)),
    };
    if part_size > MAX_PART_SIZE {
        return Err(PlanError::ObjectTooLarge {
            size,
            max: MAX_OBJECT_SIZE,
        });
    }
    Ok(Plan::Multipart {
        size,
        part_size,
        parts: size.div_ceil(part_size) as u32,
    })
}

/// The size of part `n` (1-based) of a stream of unknown length: `first`, doubled every
/// [`STREAM_DOUBLING_PARTS`] parts, at most 5 GiB. With `--expected-size`, use [`plan`]
/// instead: uniform parts.
pub fn stream_part_size(first: u64, n: u32) -> u64 {
    let doublings = (n.saturating_sub(1) / STREAM_DOUBLING_PARTS).min(40);
    first.saturating_mul(1u64 << doublings).min(MAX_PART_SIZE)
}

/// The most a stream of unknown length can carry in 10,000 parts.
pub fn stream_capacity(first: u64) -> u64 {
    (1..=MAX_PARTS).map(|n| stream_part_size(first, n)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_objects_are_one_request() {
        let cfg = PlanConfig::default();
        assert_eq!(plan(0, &cfg), Ok(Plan::Single { size: 0 }));
        assert_eq!(
            plan(DEFAULT_MULTIPART_THRESHOLD - 1, &cfg),
            Ok(Plan::Single {
                size: DEFAULT_MULTIPART_THRESHOLD - 1
            })
        );
        assert!(matches!(
            plan(DEFAULT_MULTIPART_THRESHOLD, &cfg),
            Ok(Plan::Multipart { parts: 1, .. })
        ));
    }

    #[test]
    fn automatic_part_size_grows_to_fit() {
        let cfg = PlanConfig::default();
        let size = 1024 * 1024 * MIB; // 1 TiB
        let Ok(Plan::Multipart {
            part_size, parts, ..
        }) = plan(size, &cfg)
        else {
            panic!()
        };
        assert_eq!(part_size % MIB, 0);
        assert!(parts <= MAX_PARTS);
        assert_eq!(part_size, smallest_part_size(size));
        assert_eq!(part_size, 105 * MIB);
    }

    #[test]
    fn explicit_part_size_is_never_changed() {
        let cfg = PlanConfig {
            part_size: Some(5 * MIB),
            ..Default::default()
        };
        let size = 100 * 1024 * MIB; // 100 GiB needs 11 MiB parts
        let err = plan(size, &cfg).unwrap_err();
        assert_eq!(
            err,
            PlanError::TooManyParts {
                part_size: 5 * MIB,
                parts: 20480,
                size,
                smallest: 11 * MIB
            }
        );
        assert!(err.to_string().contains("11 MiB"), "{err}");
        for bad in [5 * MIB - 1, MAX_PART_SIZE + 1, 0] {
            let cfg = PlanConfig {
                part_size: Some(bad),
                ..Default::default()
            };
            assert_eq!(
                plan(100, &cfg),
                Err(PlanError::PartSizeOutOfLimits { size: bad })
            );
        }
    }

    #[test]
    fn too_large_objects_are_refused() {
        let cfg = PlanConfig {
            max_object_size: 5 * 1024 * 1024 * MIB,
            ..Default::default()
        };
        assert!(matches!(
            plan(5 * 1024 * 1024 * MIB + 1, &cfg),
            Err(PlanError::ObjectTooLarge { .. })
        ));
        assert!(plan(MAX_OBJECT_SIZE, &PlanConfig::default()).is_ok());
        assert!(plan(MAX_OBJECT_SIZE + 1, &PlanConfig::default()).is_err());
    }

    #[test]
    fn streams_grow_to_near_the_object_limit() {
        assert_eq!(stream_part_size(STREAM_FIRST_PART, 1), 8 * MIB);
        assert_eq!(stream_part_size(STREAM_FIRST_PART, 64), 8 * MIB);
        assert_eq!(stream_part_size(STREAM_FIRST_PART, 65), 16 * MIB);
        assert_eq!(stream_part_size(STREAM_FIRST_PART, 10_000), MAX_PART_SIZE);
        let cap = stream_capacity(STREAM_FIRST_PART);
        assert!(cap > 46 * 1024 * 1024 * MIB, "{cap}");
    }

    fn check(size: u64, cfg: &PlanConfig) {
        match plan(size, cfg) {
            Ok(Plan::Single { size: s }) => assert_eq!(s, size),
            Ok(
                p @ Plan::Multipart {
                    size: s,
                    part_size,
                    parts,
                },
            ) => {
                assert_eq!(s, size);
                assert!((1..=MAX_PARTS).contains(&parts));
                assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size));
                let mut total = 0;
                for n in 1..=parts {
                    let (offset, len) = p.part_range(n);
                    assert_eq!(offset, total);
                    assert!(len > 0);
                    if n < parts {
                        assert_eq!(len, part_size);
                    }
                    total += len;
                }
                assert_eq!(total, size);
                if let Some(ps) = cfg.part_size {
                    assert_eq!(part_size, ps);
                }
            }
            Err(PlanError::TooManyParts { smallest, .. }) => {
                let fixed = PlanConfig {
                    part_size: Some(smallest),
                    ..*cfg
                };
                assert!(plan(size, &fixed).is_ok());
                let smaller = PlanConfig {
                    part_size: Some(smallest - MIB),
                    ..*cfg
                };
                assert!(smallest - MIB < MIN_PART_SIZE || plan(size, &smaller).is_err());
            }
            Err(e) => assert!(size > cfg.max_object_size, "{size}: {e}"),
        }
    }

    proptest! {
        #[test]
        fn any_size_gives_a_valid_plan(size in 0u64..=MAX_OBJECT_SIZE) {
            check(size, &PlanConfig::default());
        }

        #[test]
        fn any_explicit_part_size_is_kept_or_refused_with_a_fix(
            size in 0u64..=MAX_OBJECT_SIZE,
            part_size in MIN_PART_SIZE..=MAX_PART_SIZE,
        ) {
            check(size, &PlanConfig { part_size: Some(part_size), ..Default::default() });
        }
    }
}
