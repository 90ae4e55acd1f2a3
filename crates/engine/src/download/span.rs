//! Which bytes of an object a download reads: an exact range, an HTTP-style open range (to a
//! last byte or the end, whichever comes first), or the last N bytes; and what each is once
//! the object's size is known.

use ferry_s3::ByteRange;

/// Part of an object to download (see [`Download::span`](super::Download::span)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Bytes `first` to `last`, inclusive, all within the object: else refused (a library
    /// reading a blob out of a pack asks for what it knows is there).
    Exact {
        /// First byte, from 0.
        first: u64,
        /// Last byte.
        last: u64,
    },
    /// From byte `first` to byte `last` or the object's end, whichever comes first; with no
    /// `last`, to the end. HTTP's `bytes=FIRST-LAST` and `bytes=FIRST-`. `first` must be
    /// within the object (an empty object has none, so only 0 reads it: whole, and empty).
    From {
        /// First byte, from 0.
        first: u64,
        /// Last byte at most.
        last: Option<u64>,
    },
    /// The last `n` bytes (the whole object when it is shorter): HTTP's `bytes=-N`.
    Last(u64),
}

impl Span {
    /// The bytes this span reads of `name`, an object of `size` bytes: `None` for the whole
    /// object (checked as a whole), else the range; or why it reads nothing there.
    pub(crate) fn within(self, name: &str, size: u64) -> Result<Option<ByteRange>, String> {
        let range = match self {
            Span::Exact { first, last } => {
                if first > last || last >= size {
                    return Err(format!(
                        "bytes {first}-{last} are not within {name} ({size} bytes)"
                    ));
                }
                ByteRange { first, last }
            }
            Span::From { first, last } => {
                if let Some(last) = last.filter(|l| *l < first) {
                    return Err(format!(
                        "bytes {first}-{last}: the last comes before the first"
                    ));
                }
                if size == 0 && first == 0 {
                    return Ok(None);
                }
                if first >= size {
                    return Err(format!(
                        "byte {first} is past the end of {name} ({size} bytes)"
                    ));
                }
                let end = size - 1;
                ByteRange {
                    first,
                    last: last.map_or(end, |l| l.min(end)),
                }
            }
            Span::Last(0) => return Err(format!("the last 0 bytes of {name} are nothing to read")),
            Span::Last(n) => ByteRange {
                first: size.saturating_sub(n),
                last: size.saturating_sub(1),
            },
        };
        let whole = range.first == 0 && range.last.checked_add(1) == Some(size);
        Ok((!whole).then_some(range).filter(|_| size > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(first: u64, last: u64) -> Option<ByteRange> {
        Some(ByteRange { first, last })
    }

    #[test]
    fn spans_read_what_http_ranges_read_and_exact_ones_stay_exact() {
        let exact = |first, last| Span::Exact { first, last };
        let from = |first, last| Span::From { first, last };
        assert_eq!(exact(10, 19).within("o", 100), Ok(r(10, 19)));
        assert_eq!(exact(0, 99).within("o", 100), Ok(None));
        assert!(exact(10, 100).within("o", 100).is_err());
        assert!(exact(20, 10).within("o", 100).is_err());
        // An open range stops at the end, as HTTP's does.
        assert_eq!(from(90, Some(1000)).within("o", 100), Ok(r(90, 99)));
        assert_eq!(from(90, None).within("o", 100), Ok(r(90, 99)));
        assert_eq!(from(0, None).within("o", 100), Ok(None));
        assert_eq!(from(0, Some(5)).within("o", 0), Ok(None));
        assert!(from(100, None).within("o", 100).is_err());
        assert!(from(20, Some(10)).within("o", 100).is_err());
        // The last n bytes, or all of them.
        assert_eq!(Span::Last(10).within("o", 100), Ok(r(90, 99)));
        assert_eq!(Span::Last(100).within("o", 100), Ok(None));
        assert_eq!(Span::Last(1000).within("o", 100), Ok(None));
        assert_eq!(Span::Last(5).within("o", 0), Ok(None));
        assert!(Span::Last(0).within("o", 100).is_err());
    }
}
