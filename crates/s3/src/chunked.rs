//! The `aws-chunked` content encoding: how a part is streamed with its checksum computed on
//! the way and sent after the data in a trailer (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`), or
//! with each chunk signed (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`), so it is never
//! held whole and never read twice.
//!
//! ```text
//! <hex length>[;chunk-signature=<sig>]\r\n<data>\r\n    one per chunk
//! 0[;chunk-signature=<sig>]\r\n                         the end
//! x-amz-checksum-crc64nvme:<b64>\r\n                     the trailer, if any
//! [x-amz-trailer-signature:<sig>\r\n]
//! \r\n
//! ```

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::options::{ChecksumAlgorithm, ChecksumValue};
use crate::signing::ChunkSigner;

/// What the producer of a chunked body yields: data chunks (each exactly the chunk size but
/// the last), then, when a trailer was declared, its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkItem {
    /// A chunk of data.
    Data(Bytes),
    /// The trailer's checksum, after the last data.
    Trailer(ChecksumValue),
}

/// A stream of chunk items.
pub type ChunkStream = Pin<Box<dyn Stream<Item = std::io::Result<ChunkItem>> + Send>>;

/// The framed bytes of a body (what a request sends).
pub type FramedStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// `;chunk-signature=` and 64 hex digits.
const SIGNATURE_LEN: u64 = 17 + 64;

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
/// signed or not, with an optional checksum trailer: what `Content-Length` must say.
pub fn encoded_length(
    decoded: u64,
    chunk_size: u64,
    trailer: Option<ChecksumAlgorithm>,
    signed: bool,
) -> u64 {
    assert!(chunk_size > 0, "chunk size must be positive");
    let sig = if signed { SIGNATURE_LEN } else { 0 };
    let full = decoded / chunk_size;
    let rest = decoded % chunk_size;
    let mut len = full * (hex_len(chunk_size) + sig + 2 + chunk_size + 2);
    if rest > 0 {
        len += hex_len(rest) + sig + 2 + rest + 2;
    }
    len += 1 + sig + 2; // "0[;chunk-signature=…]\r\n"
    if let Some(a) = trailer {
        len += a.header().len() as u64 + 1 + checksum_b64_len(a) + 2;
        if signed {
            len += "x-amz-trailer-signature:".len() as u64 + 64 + 2;
        }
    }
    len + 2 // final "\r\n"
}

/// Frames chunk items as an aws-chunked body, signing each chunk and the trailer when a
/// signer is given. A declared trailer that never comes is an error.
pub fn frame(
    items: ChunkStream,
    trailer: Option<ChecksumAlgorithm>,
    signer: Option<ChunkSigner>,
) -> FramedStream {
    struct State {
        items: ChunkStream,
        signer: Option<ChunkSigner>,
        trailer: Option<ChecksumAlgorithm>,
        done: bool,
    }
    let state = State {
        items,
        signer,
        trailer,
        done: false,
    };
    Box::pin(
        futures_util::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            let item = st.items.next().await;
            let out: std::io::Result<Vec<Bytes>> = match item {
                Some(Ok(ChunkItem::Data(data))) => {
                    let head = match st.signer.as_mut() {
                        Some(s) => {
                            format!(
                                "{:x};chunk-signature={}\r\n",
                                data.len(),
                                s.sign_chunk(&data)
                            )
                        }
                        None => format!("{:x}\r\n", data.len()),
                    };
                    Ok(vec![Bytes::from(head), data, CHUNK_END])
                }
                Some(Ok(ChunkItem::Trailer(value))) => {
                    st.done = true;
                    if st.trailer != Some(value.algorithm) {
                        Err(std::io::Error::other("a trailer that was not declared"))
                    } else {
                        Ok(vec![end(st.signer.as_mut(), Some(&value))])
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    Err(e)
                }
                None => {
                    st.done = true;
                    if st.trailer.is_some() {
                        Err(std::io::Error::other("the body ended before its trailer"))
                    } else {
                        Ok(vec![end(st.signer.as_mut(), None)])
                    }
                }
            };
            Some((out, st))
        })
        .flat_map(|r| {
            futures_util::stream::iter(match r {
                Ok(parts) => parts.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })
        }),
    )
}

/// The last chunk and the trailer, signed when there is a signer.
fn end(signer: Option<&mut ChunkSigner>, trailer: Option<&ChecksumValue>) -> Bytes {
    let Some(signer) = signer else {
        return final_chunk(trailer);
    };
    let mut out = format!("0;chunk-signature={}\r\n", signer.sign_chunk(b""));
    if let Some(c) = trailer {
        let line = format!("{}:{}", c.algorithm.header(), c.value);
        let sig = signer.sign_trailer(&format!("{line}\n"));
        out.push_str(&format!("{line}\r\nx-amz-trailer-signature:{sig}\r\n"));
    }
    out.push_str("\r\n");
    Bytes::from(out)
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
                    encoded_length(decoded, chunk, trailer, false),
                    out.len() as u64,
                    "{decoded} {chunk} {trailer:?}"
                );
            }
        }
        // AWS's documented signed example: 66,560 bytes in 64 KiB chunks, 66,824 encoded.
        assert_eq!(encoded_length(66_560, 65_536, None, true), 66_824);
        assert_eq!(checksum_b64_len(ChecksumAlgorithm::Crc32), 8);
        assert_eq!(checksum_b64_len(ChecksumAlgorithm::Crc64Nvme), 12);
        assert_eq!(checksum_b64_len(ChecksumAlgorithm::Sha1), 28);
        assert_eq!(checksum_b64_len(ChecksumAlgorithm::Sha256), 44);
    }
}

#[cfg(test)]
mod frame_tests {
    use super::*;
    use crate::signing::SigningParams;

    fn collect(
        items: Vec<ChunkItem>,
        trailer: Option<ChecksumAlgorithm>,
        signer: Option<ChunkSigner>,
    ) -> Vec<u8> {
        let stream: ChunkStream = Box::pin(futures_util::stream::iter(items.into_iter().map(Ok)));
        let framed = frame(stream, trailer, signer);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let parts: Vec<Bytes> = rt.block_on(framed.map(|b| b.unwrap()).collect());
        parts.concat()
    }

    #[test]
    fn signed_frames_match_aws_example_and_lengths() {
        let params = SigningParams {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            session_token: None,
            region: "us-east-1",
            service: "s3",
            time: time::macros::datetime!(2013-05-24 00:00:00 UTC),
            normalize_path: false,
        };
        let signer = ChunkSigner::new(
            &params,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        );
        let body = collect(
            vec![
                ChunkItem::Data(Bytes::from(vec![b'a'; 65536])),
                ChunkItem::Data(Bytes::from(vec![b'a'; 1024])),
            ],
            None,
            Some(signer),
        );
        assert_eq!(body.len(), 66_824);
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with("10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"));
        assert!(text.ends_with("\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"));
        // With a trailer, the length formula holds too.
        let signer = ChunkSigner::new(&params, "seed");
        let value = ChecksumValue {
            algorithm: ChecksumAlgorithm::Crc32c,
            value: "sOO8/Q==".into(),
        };
        let body = collect(
            vec![
                ChunkItem::Data(Bytes::from(vec![b'a'; 100])),
                ChunkItem::Data(Bytes::from(vec![b'a'; 7])),
                ChunkItem::Trailer(value),
            ],
            Some(ChecksumAlgorithm::Crc32c),
            Some(signer),
        );
        assert_eq!(
            body.len() as u64,
            encoded_length(107, 100, Some(ChecksumAlgorithm::Crc32c), true)
        );
        assert!(
            String::from_utf8(body)
                .unwrap()
                .contains("x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:")
        );
    }

    #[test]
    fn a_missing_trailer_is_an_error() {
        let stream: ChunkStream = Box::pin(futures_util::stream::iter(vec![Ok(ChunkItem::Data(
            Bytes::from_static(b"x"),
        ))]));
        let framed = frame(stream, Some(ChecksumAlgorithm::Crc32), None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let items: Vec<_> = rt.block_on(framed.collect::<Vec<_>>());
        assert!(items.last().unwrap().is_err());
    }
}
