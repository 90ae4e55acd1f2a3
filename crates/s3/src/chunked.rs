//! The `aws-chunked` content encoding with a checksum trailer
//! (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`): how a part is streamed with its checksum computed on
//! the way and sent after the data, so it is never held whole and never read twice.
//!
//! ```text
//! <hex length>\r\n<data>\r\n        one per chunk
//! 0\r\n                              the end
//! x-amz-checksum-crc64nvme:<b64>\r\n  the trailer
//! \r\n
//! ```

use bytes::Bytes;

use crate::options::{ChecksumAlgorithm, ChecksumValue};

/// Length in characters of the base64 value of an algorithm's checksum.
pub fn checksum_b64_len(algorithm: ChecksumAlgorithm) -> u64 {
    let raw: u64 = match algorithm {
        ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
        ChecksumAlgorithm::Crc64Nvme => 8,
        ChecksumAlgorithm::Sha1 => 20,
        ChecksumAlgorithm::Sha256 => 32,
    };
    raw.div_ceil(3) * 4
}

fn hex_len(n: u64) -> u64 {
    format!("{n:x}").len() as u64
}

/// The encoded length of `decoded` bytes sent in chunks of `chunk_size` (the last shorter),
/// with an optional checksum trailer: what `Content-Length` must say.
pub fn encoded_length(decoded: u64, chunk_size: u64, trailer: Option<ChecksumAlgorithm>) -> u64 {
    assert!(chunk_size > 0, "chunk size must be positive");
    let full = decoded / chunk_size;
    let rest = decoded % chunk_size;
    let mut len = full * (hex_len(chunk_size) + 2 + chunk_size + 2);
    if rest > 0 {
        len += hex_len(rest) + 2 + rest + 2;
    }
    len += 3; // "0\r\n"
    if let Some(a) = trailer {
        len += a.header().len() as u64 + 1 + checksum_b64_len(a) + 2;
    }
    len + 2 // final "\r\n"
}

/// The line that opens a chunk of `len` bytes.
pub fn chunk_header(len: usize) -> Bytes {
    Bytes::from(format!("{len:x}\r\n"))
}

/// The line end that closes a chunk.
pub const CHUNK_END: Bytes = Bytes::from_static(b"\r\n");

/// The last chunk and the trailer.
pub fn final_chunk(trailer: Option<&ChecksumValue>) -> Bytes {
    match trailer {
        Some(c) => Bytes::from(format!("0\r\n{}:{}\r\n\r\n", c.algorithm.header(), c.value)),
        None => Bytes::from_static(b"0\r\n\r\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_length_matches_the_bytes() {
        for (decoded, chunk) in [
            (0u64, 64u64),
            (1, 64),
            (64, 64),
            (65, 64),
            (1000, 7),
            (300, 256),
        ] {
            for trailer in [
                None,
                Some(ChecksumAlgorithm::Crc64Nvme),
                Some(ChecksumAlgorithm::Sha256),
            ] {
                let mut out = Vec::new();
                let mut left = decoded;
                while left > 0 {
                    let n = left.min(chunk) as usize;
                    out.extend_from_slice(&chunk_header(n));
                    out.extend(std::iter::repeat_n(b'x', n));
                    out.extend_from_slice(&CHUNK_END);
                    left -= n as u64;
                }
                let value = trailer.map(|a| ChecksumValue {
                    algorithm: a,
                    value: "A".repeat(checksum_b64_len(a) as usize),
                });
                out.extend_from_slice(&final_chunk(value.as_ref()));
                assert_eq!(
                    encoded_length(decoded, chunk, trailer),
                    out.len() as u64,
                    "{decoded} {chunk} {trailer:?}"
                );
            }
        }
        assert_eq!(checksum_b64_len(ChecksumAlgorithm::Crc32), 8);
        assert_eq!(checksum_b64_len(ChecksumAlgorithm::Crc64Nvme), 12);
        assert_eq!(checksum_b64_len(ChecksumAlgorithm::Sha1), 28);
        assert_eq!(checksum_b64_len(ChecksumAlgorithm::Sha256), 44);
    }
}
