//! How a download is cut: the object's part boundaries (when its check needs them) and the
//! ranges, never crossing a part boundary, that are fetched in parallel.

use ferry_s3::{GetObjectAttributesRequest, ObjectAttributes, ObjectClient};
use futures_util::StreamExt as _;
use tracing::info;

use super::{Job, Listed};
use crate::error::Error;

/// Cuts the object into ranges of at most `range_size`, none crossing a part boundary.
pub(super) fn plan_ranges(size: u64, range_size: u64, parts: Option<&[u64]>) -> Vec<[u64; 2]> {
    let whole = [size];
    let parts = parts.unwrap_or(&whole);
    let mut out = Vec::new();
    let mut offset = 0;
    for &p in parts {
        let mut done = 0;
        while done < p {
            let len = range_size.min(p - done);
            out.push([offset + done, len]);
            done += len;
        }
        offset += p;
    }
    out
}

/// Cuts bytes `first` to `last` (inclusive) of an object into ranges of at most
/// `range_size`, at their offsets in the object.
pub(super) fn ranges_within(first: u64, last: u64, range_size: u64) -> Vec<[u64; 2]> {
    plan_ranges(last - first + 1, range_size, None)
        .into_iter()
        .map(|[offset, len]| [first + offset, len])
        .collect()
}

/// The part count an ETag or composite checksum ends with (`…-N`).
pub(crate) fn parts_suffix(v: &str) -> Option<u32> {
    part_count(v.rsplit_once('-')?.1)
}

/// `n` as a part count: 1 to 10,000, as S3 allows (a larger count, which no multipart upload
/// can have, would ask for that many part sizes).
pub(crate) fn part_count(n: &str) -> Option<u32> {
    let n = n.parse().ok()?;
    (1..=crate::limits::MAX_PARTS).contains(&n).then_some(n)
}

/// The part index of each range, from the part sizes.
pub(super) fn part_of_ranges(ranges: &[[u64; 2]], parts: &[u64]) -> Vec<usize> {
    let mut starts = Vec::with_capacity(parts.len());
    let mut o = 0;
    for p in parts {
        starts.push(o);
        o += p;
    }
    ranges
        .iter()
        .map(|r| starts.partition_point(|&s| s <= r[0]).saturating_sub(1))
        .collect()
}

/// Learns the part sizes of a multipart object of `n` parts: listed by GetObjectAttributes
/// when the server does; else inferred from part 1 and part `n` (uniform parts, as every
/// common tool writes them; `guessed`, so a failed check lists them one by one before
/// blaming the bytes). `None` when the server does not serve parts by number.
pub(super) async fn part_sizes<C: ObjectClient>(
    job: &Job<C>,
    size: u64,
    n: u32,
) -> Result<Option<(Vec<u64>, bool)>, Error> {
    if n == 1 {
        return Ok(Some((vec![size], false)));
    }
    if let Some(listed) = listed_parts(job, size, n).await {
        return Ok(Some((listed, false)));
    }
    let first = job.head(Some(1)).await?;
    // A server that ignores partNumber answers with the whole object.
    if first.parts_count != Some(n) || first.content_length >= size {
        info!("the server does not serve parts by number: no part boundaries");
        return Ok(None);
    }
    let p = first.content_length;
    if p > 0 && p * (n as u64 - 1) < size && size <= p * n as u64 {
        let last = size - p * (n as u64 - 1);
        let tail = job.head(Some(n)).await?;
        if tail.content_length == last {
            let mut v = vec![p; n as usize - 1];
            v.push(last);
            return Ok(Some((v, true)));
        }
    }
    let each = head_each_part(job, n).await?;
    Ok((each.iter().sum::<u64>() == size).then_some((each, false)))
}

/// Part sizes from GetObjectAttributes, if the server lists them all.
async fn listed_parts<C: ObjectClient>(job: &Job<C>, size: u64, n: u32) -> Option<Vec<u64>> {
    let mut sizes = Vec::with_capacity(n as usize);
    let mut marker = None;
    loop {
        let req = GetObjectAttributesRequest {
            bucket: job.object.bucket.clone(),
            key: job.object.key.clone(),
            version_id: job.object.version_id.clone(),
            attributes: ObjectAttributes {
                etag: false,
                checksum: false,
                object_parts: true,
                storage_class: false,
                object_size: false,
            },
            max_parts: Some(1000),
            part_number_marker: marker,
            request: job.object.request.clone(),
        };
        // Asked once: a server that keeps no part list answers with an error.
        let req = &req;
        let answer = job
            .ctx
            .request(
                None,
                |c| async move { Ok(c.get_object_attributes(req).await) },
            )
            .await;
        let out = match answer {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                info!("GetObjectAttributes gave no part list: {e}");
                return None;
            }
            Err(_) => return None,
        };
        let page = out.object_parts?;
        for p in &page.parts {
            if p.part_number as usize != sizes.len() + 1 {
                return None;
            }
            sizes.push(p.size);
        }
        match page.next_part_number_marker {
            Some(m) if (sizes.len() as u32) < n && !page.parts.is_empty() => marker = Some(m),
            _ => break,
        }
    }
    (sizes.len() as u32 == n && sizes.iter().sum::<u64>() == size).then_some(sizes)
}

/// Part sizes, one HeadObject `partNumber` each.
pub(super) async fn head_each_part<C: ObjectClient>(
    job: &Job<C>,
    n: u32,
) -> Result<Vec<u64>, Error> {
    let limit = job.ctx.shared.parts_per_object as usize;
    let mut sizes: Vec<(u32, u64)> = futures_util::stream::iter(1..=n)
        .map(|i| async move { job.head(Some(i)).await.map(|m| (i, m.content_length)) })
        .buffer_unordered(limit)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    sizes.sort();
    Ok(sizes.into_iter().map(|(_, s)| s).collect())
}

/// Reads a range of `file` in chunks, passing each to `f`.
/// bigger than a range, and of one part at most (the ETag of an object of N parts ends `-N`).
pub(super) fn one_range(listed: &Listed, range_size: u64) -> bool {
    listed.size <= range_size && parts_suffix(listed.etag.trim_matches('"')).is_none_or(|n| n <= 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_cut_at_its_offsets() {
        assert_eq!(
            ranges_within(100, 349, 100),
            vec![[100, 100], [200, 100], [300, 50]]
        );
        assert_eq!(ranges_within(7, 7, 100), vec![[7, 1]]);
    }

    #[test]
    fn a_part_count_is_one_s3_allows() {
        assert_eq!(parts_suffix("0123abcd-3"), Some(3));
        assert_eq!(parts_suffix("0123abcd-10000"), Some(10_000));
        assert_eq!(parts_suffix("0123abcd-10001"), None);
        assert_eq!(parts_suffix("0123abcd-4000000000"), None);
        assert_eq!(parts_suffix("0123abcd-0"), None);
        assert_eq!(parts_suffix("0123abcd"), None);
    }

    #[test]
    fn ranges_never_cross_parts() {
        assert_eq!(plan_ranges(0, 10, None), Vec::<[u64; 2]>::new());
        assert_eq!(plan_ranges(25, 10, None), vec![[0, 10], [10, 10], [20, 5]]);
        let parts = [8, 8, 3];
        let r = plan_ranges(19, 5, Some(&parts));
        assert_eq!(r, vec![[0, 5], [5, 3], [8, 5], [13, 3], [16, 3]]);
        assert_eq!(part_of_ranges(&r, &parts), vec![0, 0, 1, 1, 2]);
    }

    #[test]
    fn a_listed_object_skips_head_only_when_it_is_one_range() {
        let l = |size, etag: &str| Listed {
            size,
            etag: etag.to_string(),
        };
        assert!(one_range(&l(0, "\"d41d8cd98f00b204e9800998ecf8427e\""), 16));
        assert!(one_range(&l(16, "\"0f1e\""), 16));
        // A multipart object of one part is still one range.
        assert!(one_range(&l(16, "\"0f1e-1\""), 16));
        assert!(!one_range(&l(17, "\"0f1e\""), 16));
        // Of two parts: its check may need their boundaries.
        assert!(!one_range(&l(10, "\"0f1e-2\""), 16));
        assert!(!one_range(&l(10, "0f1e-2"), 16));
    }
}
