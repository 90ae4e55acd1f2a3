//! How a download is checked: the best check an object offers ([`choose_check`]), and its
//! computation, combined from the ranges' CRCs as they arrive (full-object and composite
//! CRCs) or over the bytes in order ([`Ordered`]: SHA checksums, MD5 ETags).

use ferry_s3::{ChecksumAlgorithm, ChecksumType, ObjectMeta};

use super::Object;
use super::layout::{part_count, part_of_ranges, parts_suffix};
use crate::checksum::{Digest, Hasher, combine, hex_lower, object_checksum};
use crate::outcome::Check;

/// One range's digests: CRC64NVME (re-checked on resume) and the check's CRC, if it combines
/// range CRCs.
#[derive(Debug, Clone)]
pub(super) struct RangeDigests {
    pub(super) crc64: Digest,
    pub(super) digest: Option<Digest>,
    /// The check's value, when the range is the whole object and the check reads the bytes
    /// in order (an MD5 ETag, a SHA): computed as they arrive, so the file is not read back.
    pub(super) whole: Option<String>,
}

/// How much checking a download insists on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyMode {
    /// The best check the object offers; the size alone when it offers none.
    #[default]
    Auto,
    /// Fail before fetching anything when the object offers no check.
    Require,
    /// Only the size.
    Off,
}

impl Check {
    /// The CRC each range computes as it arrives, when the check combines range CRCs.
    pub(super) fn range_algorithm(&self) -> Option<ChecksumAlgorithm> {
        match self {
            Check::FullObject(v) | Check::Composite(v) if is_crc(v.algorithm) => Some(v.algorithm),
            _ => None,
        }
    }

    /// Parts the check is computed over, when it needs the object's part boundaries.
    pub(super) fn parts(&self) -> Option<u32> {
        match self {
            Check::Composite(v) => parts_suffix(&v.value),
            Check::MultipartEtag(e) => parts_suffix(e),
            _ => None,
        }
    }

    /// The value the check expects, in the form [`Ordered::finish`] gives.
    pub(super) fn expected(&self) -> Option<&str> {
        match self {
            Check::FullObject(v) | Check::Composite(v) | Check::WholeObject(v) => Some(&v.value),
            Check::MultipartEtag(e) | Check::Md5Etag(e) => Some(e),
            Check::SizeOnly(_) | Check::Moved => None,
        }
    }
}

pub(super) fn is_crc(a: ChecksumAlgorithm) -> bool {
    matches!(
        a,
        ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c | ChecksumAlgorithm::Crc64Nvme
    )
}

/// What a finished download produced.
pub(super) fn choose_check(meta: &ObjectMeta, mode: VerifyMode) -> Check {
    if mode == VerifyMode::Off {
        return Check::SizeOnly("verification was turned off".into());
    }
    if let Some(v) = &meta.checksum.value {
        let composite = meta.checksum.checksum_type == Some(ChecksumType::Composite)
            || parts_suffix(&v.value).is_some();
        return if composite {
            Check::Composite(v.clone())
        } else if is_crc(v.algorithm) {
            Check::FullObject(v.clone())
        } else {
            Check::WholeObject(v.clone())
        };
    }
    if meta.sse_customer_key_md5.is_some() {
        return Check::SizeOnly(
            "an SSE-C object with no additional checksum: its ETag is not an MD5".into(),
        );
    }
    if meta
        .server_side_encryption
        .as_deref()
        .is_some_and(ferry_s3::is_kms)
    {
        return Check::SizeOnly(
            "an SSE-KMS or DSSE-KMS object with no additional checksum: its ETag is not an MD5"
                .into(),
        );
    }
    let etag = meta.etag.trim_matches('"').to_ascii_lowercase();
    let (hex, parts) = match etag.split_once('-') {
        Some((h, n)) => (h, part_count(n)),
        None => (etag.as_str(), None),
    };
    let is_md5 = hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    match (is_md5, parts, etag.contains('-')) {
        (true, Some(_), _) => Check::MultipartEtag(etag.clone()),
        (true, None, false) => Check::Md5Etag(etag.clone()),
        _ => Check::SizeOnly(format!(
            "no additional checksum, and the ETag {} is not an MD5",
            meta.etag
        )),
    }
}

/// A check computed from the bytes in order (for what cannot be combined from ranges).
pub(super) struct Ordered {
    check: Check,
    /// Part sizes, for per-part checks.
    parts: Vec<u64>,
    part: usize,
    in_part: u64,
    hasher: Option<Hasher>,
    digests: Vec<Digest>,
}

impl Ordered {
    pub(super) fn new(check: &Check, parts: Option<&[u64]>) -> Self {
        let mut o = Self {
            check: check.clone(),
            parts: parts.map(<[u64]>::to_vec).unwrap_or_default(),
            part: 0,
            in_part: 0,
            hasher: None,
            digests: Vec::new(),
        };
        o.hasher = o.new_hasher();
        o
    }

    fn new_hasher(&self) -> Option<Hasher> {
        match &self.check {
            Check::FullObject(v) | Check::Composite(v) | Check::WholeObject(v) => {
                Some(Hasher::new(v.algorithm))
            }
            Check::MultipartEtag(_) | Check::Md5Etag(_) => Some(Hasher::md5()),
            Check::SizeOnly(_) | Check::Moved => None,
        }
    }

    fn per_part(&self) -> bool {
        matches!(self.check, Check::Composite(_) | Check::MultipartEtag(_))
    }

    pub(super) fn update(&mut self, mut data: &[u8]) {
        if self.hasher.is_none() {
            return;
        }
        while !data.is_empty() {
            let room = if self.per_part() {
                self.parts.get(self.part).copied().unwrap_or(u64::MAX) - self.in_part
            } else {
                u64::MAX
            };
            let n = (data.len() as u64).min(room) as usize;
            if let Some(h) = &mut self.hasher {
                h.update(&data[..n]);
            }
            self.in_part += n as u64;
            data = &data[n..];
            if self.per_part() && self.parts.get(self.part) == Some(&self.in_part) {
                self.end_part();
            }
        }
    }

    fn end_part(&mut self) {
        let next = self.new_hasher();
        if let Some(h) = std::mem::replace(&mut self.hasher, next) {
            self.digests.push(h.finish(self.in_part));
        }
        self.part += 1;
        self.in_part = 0;
    }

    /// The value, in the form the check expects.
    pub(super) fn finish(mut self) -> Option<String> {
        if self.per_part() {
            if self.in_part > 0 {
                self.end_part();
            }
            return value_from_parts(&self.check, &self.digests);
        }
        let h = self.hasher.take()?;
        Some(value_from_whole(&self.check, &h.finish(self.in_part)))
    }
}

fn value_from_whole(check: &Check, d: &Digest) -> String {
    match check {
        Check::Md5Etag(_) => hex_lower(&d.raw),
        _ => d.base64(),
    }
}

fn value_from_parts(check: &Check, parts: &[Digest]) -> Option<String> {
    match check {
        Check::Composite(v) => {
            object_checksum(v.algorithm, ChecksumType::Composite, parts).map(|c| c.value)
        }
        Check::MultipartEtag(_) => {
            let mut h = Hasher::md5();
            for p in parts {
                h.update(&p.raw);
            }
            Some(format!("{}-{}", hex_lower(&h.finish(0).raw), parts.len()))
        }
        _ => None,
    }
}

/// The value from the ranges' CRCs (checks that combine), or `None` if it needs a pass in
/// order.
pub(super) fn combined_value(
    object: &Object,
    ranges: &[[u64; 2]],
    digests: &[Option<RangeDigests>],
) -> Option<String> {
    let alg = object.check.range_algorithm()?;
    let ds: Option<Vec<Digest>> = digests
        .iter()
        .map(|d| d.as_ref().and_then(|d| d.digest.clone()))
        .collect();
    let ds = ds?;
    match &object.check {
        Check::FullObject(_) => Some(value_from_whole(&object.check, &combine(alg, &ds)?)),
        Check::Composite(_) => {
            let parts = object.parts.as_deref()?;
            let owner = part_of_ranges(ranges, parts);
            let mut per_part: Vec<Vec<Digest>> = vec![Vec::new(); parts.len()];
            for (d, p) in ds.into_iter().zip(owner) {
                per_part.get_mut(p)?.push(d);
            }
            let parts: Option<Vec<Digest>> = per_part.iter().map(|p| combine(alg, p)).collect();
            value_from_parts(&object.check, &parts?)
        }
        _ => None,
    }
}

/// Whether the check reads the bytes in order (it cannot be combined from ranges).
pub(super) fn needs_pass(check: &Check) -> bool {
    check.expected().is_some() && check.range_algorithm().is_none()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ferry_s3::ChecksumValue;

    use super::*;
    use crate::download::layout::plan_ranges;

    fn meta(etag: &str) -> ObjectMeta {
        ObjectMeta {
            etag: format!("\"{etag}\""),
            ..Default::default()
        }
    }

    #[test]
    fn the_best_check_is_chosen() {
        let mut m = meta("abc");
        m.checksum.value = Some(ChecksumValue {
            algorithm: ChecksumAlgorithm::Crc64Nvme,
            value: "AAAAAAAAAAA=".into(),
        });
        assert_eq!(choose_check(&m, VerifyMode::Auto).kind(), "full-object");
        m.checksum.value = Some(ChecksumValue {
            algorithm: ChecksumAlgorithm::Crc32,
            value: "VLm86A==-3".into(),
        });
        let c = choose_check(&m, VerifyMode::Auto);
        assert_eq!((c.kind(), c.parts()), ("composite", Some(3)));
        m.checksum.value = Some(ChecksumValue {
            algorithm: ChecksumAlgorithm::Sha256,
            value: "x".into(),
        });
        assert_eq!(choose_check(&m, VerifyMode::Auto).kind(), "whole-object");
        let m = meta("1c9a057dacec2be5ad1828ee5fe2b1fb-4");
        let c = choose_check(&m, VerifyMode::Auto);
        assert_eq!((c.kind(), c.parts()), ("multipart-etag", Some(4)));
        // More parts than a multipart upload can have: no multipart ETag, only the size.
        let m = meta("1c9a057dacec2be5ad1828ee5fe2b1fb-4000000000");
        assert_eq!(choose_check(&m, VerifyMode::Auto).kind(), "size");
        assert_eq!(
            choose_check(&meta("abbdd0bd34d6426dfe45f4a7d5f8d935"), VerifyMode::Auto).kind(),
            "md5-etag"
        );
        assert_eq!(
            choose_check(&meta("weird"), VerifyMode::Auto).kind(),
            "size"
        );
        let mut c = meta("abbdd0bd34d6426dfe45f4a7d5f8d935");
        c.sse_customer_key_md5 = Some("k".into());
        assert_eq!(choose_check(&c, VerifyMode::Auto).kind(), "size");
        let mut k = meta("abbdd0bd34d6426dfe45f4a7d5f8d935");
        k.server_side_encryption = Some("aws:kms".into());
        assert_eq!(choose_check(&k, VerifyMode::Auto).kind(), "size");
        // DSSE-KMS's ETag is no MD5 either.
        k.server_side_encryption = Some("aws:kms:dsse".into());
        assert_eq!(choose_check(&k, VerifyMode::Auto).kind(), "size");
        assert_eq!(
            choose_check(&meta("abbdd0bd34d6426dfe45f4a7d5f8d935"), VerifyMode::Off).kind(),
            "size"
        );
    }

    fn md5(data: &[u8]) -> Digest {
        let mut h = Hasher::md5();
        h.update(data);
        h.finish(data.len() as u64)
    }

    #[test]
    fn ordered_checks_match_their_definitions() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        // Multipart ETag over parts of 400, 400, 200, fed in uneven pieces.
        let parts = [400, 400, 200];
        let mut cat = Vec::new();
        for (a, b) in [(0, 400), (400, 800), (800, 1000)] {
            cat.extend_from_slice(&md5(&data[a..b]).raw);
        }
        let etag = format!("{}-3", hex_lower(&md5(&cat).raw));
        let check = Check::MultipartEtag(etag.clone());
        let mut o = Ordered::new(&check, Some(&parts));
        for piece in data.chunks(333) {
            o.update(piece);
        }
        assert_eq!(o.finish(), Some(etag));
        // Plain MD5.
        let whole = hex_lower(&md5(&data).raw);
        let mut o = Ordered::new(&Check::Md5Etag(whole.clone()), None);
        o.update(&data);
        assert_eq!(o.finish(), Some(whole));
        // Composite CRC32 from ranges equals the ordered value.
        let mut parts_d = Vec::new();
        for (a, b) in [(0, 400), (400, 800), (800, 1000)] {
            let mut h = Hasher::new(ChecksumAlgorithm::Crc32);
            h.update(&data[a..b]);
            parts_d.push(h.finish((b - a) as u64));
        }
        let value =
            object_checksum(ChecksumAlgorithm::Crc32, ChecksumType::Composite, &parts_d).unwrap();
        let check = Check::Composite(value.clone());
        let mut o = Ordered::new(&check, Some(&parts));
        o.update(&data);
        assert_eq!(o.finish().as_deref(), Some(value.value.as_str()));
        let object = Object {
            size: 1000,
            etag: Arc::from("e"),
            version_id: None,
            check,
            parts: Some(parts.to_vec()),
            guessed: false,
            mtime: None,
            mode: None,
        };
        let ranges = plan_ranges(1000, 150, Some(&parts));
        let digests: Vec<Option<RangeDigests>> = ranges
            .iter()
            .map(|&[f, l]| {
                let mut h = Hasher::new(ChecksumAlgorithm::Crc32);
                h.update(&data[f as usize..(f + l) as usize]);
                Some(RangeDigests {
                    crc64: Hasher::new(ChecksumAlgorithm::Crc64Nvme).finish(0),
                    digest: Some(h.finish(l)),
                    whole: None,
                })
            })
            .collect();
        assert_eq!(
            combined_value(&object, &ranges, &digests).as_deref(),
            Some(value.value.as_str())
        );
    }
}
