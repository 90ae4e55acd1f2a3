//! Checksums: per-part CRC32, CRC32C, CRC64NVME, SHA1, SHA256 and MD5 (Content-MD5), and the
//! object-level values S3 checks: COMPOSITE (a checksum of the part checksums, `-N`) and
//! FULL_OBJECT (the CRC of the whole stream, combined from the part CRCs: no second pass).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use crc_fast::CrcAlgorithm as Crc;
use ferry_s3::{ChecksumAlgorithm, ChecksumType, ChecksumValue};
use md5::Digest as _;

/// Bodies up to this size are hashed (an upload's also read) on the task that has them, not
/// on a blocking thread: a read this small (from the page cache, where a file just listed
/// usually is) and its checksum take tens of microseconds (an MD5 of 256 KiB, about 0.4 ms),
/// about what the hand-off to another thread and back costs in wake-ups. A tree of small
/// files makes one per file each way, and the hand-off was a fifth of ferry's CPU for them.
pub(crate) const HASH_HERE: u64 = 256 * 1024;

/// What an upload checksums with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumMode {
    /// An additional checksum algorithm with its type: sent per part in a trailer, and for
    /// the whole object on Complete.
    Additional(ChecksumAlgorithm, ChecksumType),
    /// `Content-MD5` on each part only, for servers that reject additional checksums.
    ContentMd5,
    /// No checksum beyond TCP's and TLS's.
    None,
}

impl Default for ChecksumMode {
    /// CRC64NVME, FULL_OBJECT: S3's own default, and the cheapest to compute.
    fn default() -> Self {
        ChecksumMode::Additional(ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject)
    }
}

impl ChecksumMode {
    /// The additional checksum's algorithm, in that mode.
    pub(crate) fn algorithm(self) -> Option<ChecksumAlgorithm> {
        match self {
            ChecksumMode::Additional(a, _) => Some(a),
            ChecksumMode::ContentMd5 | ChecksumMode::None => None,
        }
    }

    /// The additional checksum of some data in this mode, as S3 writes it.
    pub(crate) fn value_of(self, digest: Option<&Digest>) -> Option<ChecksumValue> {
        match (self, digest) {
            (ChecksumMode::Additional(a, _), Some(d)) => Some(ChecksumValue {
                algorithm: a,
                value: d.base64(),
            }),
            _ => None,
        }
    }
}

fn crc_of(a: ChecksumAlgorithm) -> Option<Crc> {
    match a {
        ChecksumAlgorithm::Crc32 => Some(Crc::Crc32IsoHdlc),
        ChecksumAlgorithm::Crc32c => Some(Crc::Crc32Iscsi),
        ChecksumAlgorithm::Crc64Nvme => Some(Crc::Crc64Nvme),
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
    }
}

/// A running checksum of one algorithm (or MD5).
#[derive(Clone)]
pub enum Hasher {
    /// One of the CRCs.
    Crc(ChecksumAlgorithm, crc_fast::Digest),
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// SHA-256.
    Sha256(sha2::Sha256),
    /// MD5, for Content-MD5.
    Md5(md5::Md5),
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Hasher::Crc(..) => "Hasher::Crc",
            Hasher::Sha1(_) => "Hasher::Sha1",
            Hasher::Sha256(_) => "Hasher::Sha256",
            Hasher::Md5(_) => "Hasher::Md5",
        })
    }
}

/// A finished part checksum: the raw digest (for composite and combined values) and the
/// number of bytes it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// Raw digest bytes, big-endian for CRCs (as S3 encodes them).
    pub raw: Vec<u8>,
    /// Bytes hashed.
    pub len: u64,
}

impl Digest {
    /// Base64, as in `x-amz-checksum-*` and `Content-MD5`.
    pub fn base64(&self) -> String {
        B64.encode(&self.raw)
    }
}

impl Hasher {
    /// A hasher for an additional checksum algorithm.
    pub fn new(a: ChecksumAlgorithm) -> Self {
        match crc_of(a) {
            Some(c) => Hasher::Crc(a, crc_fast::Digest::new(c)),
            None if a == ChecksumAlgorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            None => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    /// A hasher for Content-MD5.
    pub fn md5() -> Self {
        Hasher::Md5(md5::Md5::new())
    }

    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc(_, d) => d.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Md5(h) => h.update(data),
        }
    }

    /// The digest, and `len` bytes it covered (the caller counts).
    pub fn finish(self, len: u64) -> Digest {
        let raw = match self {
            Hasher::Crc(a, d) => crc_bytes(a, d.finalize()),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
        };
        Digest { raw, len }
    }
}

fn crc_bytes(a: ChecksumAlgorithm, v: u64) -> Vec<u8> {
    if a == ChecksumAlgorithm::Crc64Nvme {
        v.to_be_bytes().to_vec()
    } else {
        (v as u32).to_be_bytes().to_vec()
    }
}

fn crc_value(raw: &[u8]) -> u64 {
    raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// Bytes as lowercase hex (an MD5 ETag's form).
pub(crate) fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The CRC of the concatenation of parts, from the parts' CRCs and lengths (no second pass).
/// `None` for SHA algorithms, which cannot be combined.
pub fn combine(a: ChecksumAlgorithm, parts: &[Digest]) -> Option<Digest> {
    let field = Gf2::of(a)?;
    let mut iter = parts.iter();
    let Some(first) = iter.next() else {
        return Some(Hasher::new(a).finish(0));
    };
    let mut value = crc_value(&first.raw);
    let mut len = first.len;
    // Parts are nearly all one size: the shift operator for a length is computed once.
    let mut op: Option<(u64, u64)> = None;
    for p in iter {
        let shift = match op {
            Some((n, shift)) if n == p.len => shift,
            _ => {
                let shift = field.x_pow_8n(p.len);
                op = Some((p.len, shift));
                shift
            }
        };
        value = field.mul(shift, value) ^ crc_value(&p.raw);
        len += p.len;
    }
    Some(Digest {
        raw: crc_bytes(a, value),
        len,
    })
}

/// Arithmetic modulo a reflected CRC polynomial (bit-reversed, as zlib's `crc32_combine`):
/// for CRCs whose initial value equals their final XOR (all three S3 CRCs),
/// `crc(A ‖ B) = crc(A) · x^(8·|B|) + crc(B)`.
#[derive(Debug, Clone, Copy)]
struct Gf2 {
    /// The polynomial, reflected, without its top term.
    poly: u64,
    /// Width in bits (32 or 64).
    width: u32,
}

impl Gf2 {
    fn of(a: ChecksumAlgorithm) -> Option<Self> {
        let (poly, width) = match a {
            ChecksumAlgorithm::Crc32 => (0xEDB8_8320, 32),
            ChecksumAlgorithm::Crc32c => (0x82F6_3B78, 32),
            ChecksumAlgorithm::Crc64Nvme => (0x9A6C_9329_AC4B_C9B5, 64),
            ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => return None,
        };
        Some(Gf2 { poly, width })
    }

    /// The polynomial 1 (x^0), reflected: the top bit.
    fn one(self) -> u64 {
        1 << (self.width - 1)
    }

    /// `a · b` modulo the polynomial.
    fn mul(self, a: u64, mut b: u64) -> u64 {
        let mut m = self.one();
        let mut p = 0;
        while m != 0 {
            if a & m != 0 {
                p ^= b;
                if a & (m - 1) == 0 {
                    break;
                }
            }
            m >>= 1;
            b = if b & 1 != 0 {
                (b >> 1) ^ self.poly
            } else {
                b >> 1
            };
        }
        p
    }

    /// x^(8n) modulo the polynomial: squarings of x^8, one per bit of `n`.
    fn x_pow_8n(self, mut n: u64) -> u64 {
        let mut p = self.one();
        let mut sq = self.one() >> 8; // x^8
        while n != 0 {
            if n & 1 != 0 {
                p = self.mul(sq, p);
            }
            sq = self.mul(sq, sq);
            n >>= 1;
        }
        p
    }
}

/// The object checksum S3 computes for a multipart upload, as it writes it: FULL_OBJECT is the
/// combined CRC; COMPOSITE is the checksum of the concatenated raw part checksums, `-N`.
pub fn object_checksum(
    a: ChecksumAlgorithm,
    t: ChecksumType,
    parts: &[Digest],
) -> Option<ChecksumValue> {
    let value = match t {
        ChecksumType::FullObject => combine(a, parts)?.base64(),
        ChecksumType::Composite => {
            let mut h = Hasher::new(a);
            for p in parts {
                h.update(&p.raw);
            }
            format!("{}-{}", h.finish(0).base64(), parts.len())
        }
    };
    Some(ChecksumValue {
        algorithm: a,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn digest(a: ChecksumAlgorithm, data: &[u8]) -> Digest {
        let mut h = Hasher::new(a);
        h.update(data);
        h.finish(data.len() as u64)
    }

    #[test]
    fn known_values() {
        // "123456789" check values of each CRC.
        let check = |a, hex: &str| assert_eq!(hex::encode(digest(a, b"123456789").raw), hex);
        check(ChecksumAlgorithm::Crc32, "cbf43926");
        check(ChecksumAlgorithm::Crc32c, "e3069283");
        check(ChecksumAlgorithm::Crc64Nvme, "ae8b14860a799888");
        assert_eq!(
            digest(ChecksumAlgorithm::Sha256, b"").base64(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn combine_agrees_with_crc_fast_on_uniform_and_huge_parts() {
        // Uniform parts (the cached shift) and lengths no test can hash in one pass (5 GiB).
        for a in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let crc = crc_of(a).unwrap();
            for lens in [
                vec![16 << 20; 100],
                vec![5 << 30, 5 << 30, 7],
                vec![1, 5 << 20, 5 << 20, 3, 3],
            ] {
                let parts: Vec<Digest> = lens
                    .iter()
                    .enumerate()
                    .map(|(i, &len)| Digest {
                        raw: crc_bytes(a, 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1)),
                        len,
                    })
                    .collect();
                let mut want = crc_value(&parts[0].raw);
                for p in &parts[1..] {
                    want = crc_fast::checksum_combine(crc, want, crc_value(&p.raw), p.len);
                }
                assert_eq!(combine(a, &parts).unwrap().raw, crc_bytes(a, want), "{a:?}");
            }
        }
    }

    #[test]
    fn composite_of_parts() {
        let a = digest(ChecksumAlgorithm::Sha256, b"part one");
        let b = digest(ChecksumAlgorithm::Sha256, b"part two");
        let mut cat = a.raw.clone();
        cat.extend_from_slice(&b.raw);
        let expected = format!("{}-2", digest(ChecksumAlgorithm::Sha256, &cat).base64());
        assert_eq!(
            object_checksum(
                ChecksumAlgorithm::Sha256,
                ChecksumType::Composite,
                &[a.clone(), b]
            )
            .unwrap()
            .value,
            expected
        );
        assert_eq!(
            object_checksum(ChecksumAlgorithm::Sha256, ChecksumType::FullObject, &[a]),
            None
        );
    }

    proptest! {
        #[test]
        fn combined_crc_equals_one_pass_on_random_splits(
            data in proptest::collection::vec(any::<u8>(), 0..20_000),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            points.push(0);
            points.push(data.len());
            points.sort();
            for a in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme] {
                let parts: Vec<Digest> = points
                    .windows(2)
                    .map(|w| digest(a, &data[w[0]..w[1]]))
                    .collect();
                prop_assert_eq!(combine(a, &parts).unwrap(), digest(a, &data));
            }
        }
    }
}
