//! S3's limits on multipart uploads. Source: Amazon S3 User Guide, "Amazon S3 multipart upload
//! limits". Applies to: every multipart upload and copy.

/// Smallest part, except the last: 5 MiB.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Largest part: 5 GiB.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Most parts in one upload.
pub const MAX_PARTS: u32 = 10_000;
/// Largest object: 10,000 parts of 5 GiB (48.8 TiB), AWS's current limit.
pub const MAX_OBJECT_SIZE: u64 = MAX_PART_SIZE * MAX_PARTS as u64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_limit_is_ten_thousand_max_parts() {
        assert_eq!(MAX_OBJECT_SIZE, 53_687_091_200_000);
        assert!(MAX_OBJECT_SIZE as f64 / (1u64 << 40) as f64 > 48.8);
    }
}
