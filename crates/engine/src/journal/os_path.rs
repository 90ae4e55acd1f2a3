//! A path in a journal or a plan (JSON): its text when it is UTF-8, as every earlier journal
//! holds it; else its bytes (`{"unix_bytes": [...]}`), since a file's name need not be UTF-8
//! and serde refuses such a path as text.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a path is written.
#[derive(Serialize)]
#[serde(untagged)]
enum Written<'a> {
    Text(&'a str),
    Bytes { unix_bytes: &'a [u8] },
}

/// How a path is read back.
#[derive(Deserialize)]
#[serde(untagged)]
enum Read {
    Text(String),
    Bytes { unix_bytes: Vec<u8> },
}

/// Writes `path` as its text, or its bytes when it is not UTF-8.
pub(crate) fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    match path.to_str() {
        Some(text) => Written::Text(text),
        None => Written::Bytes {
            unix_bytes: path.as_os_str().as_bytes(),
        },
    }
    .serialize(s)
}

/// Reads a path written either way.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    Ok(match Read::deserialize(d)? {
        Read::Text(text) => PathBuf::from(text),
        Read::Bytes { unix_bytes } => PathBuf::from(OsStr::from_bytes(&unix_bytes)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        path: PathBuf,
    }

    #[test]
    fn a_path_round_trips_as_text_or_as_bytes() {
        let text = Holder {
            path: PathBuf::from("/home/me/ü.bin"),
        };
        let json = serde_json::to_string(&text).unwrap();
        assert_eq!(json, r#"{"path":"/home/me/ü.bin"}"#);
        assert_eq!(serde_json::from_str::<Holder>(&json).unwrap(), text);
        let latin1 = Holder {
            path: PathBuf::from(OsStr::from_bytes(b"/home/me/caf\xe9")),
        };
        let json = serde_json::to_string(&latin1).unwrap();
        assert_eq!(
            json,
            r#"{"path":{"unix_bytes":[47,104,111,109,101,47,109,101,47,99,97,102,233]}}"#
        );
        assert_eq!(serde_json::from_str::<Holder>(&json).unwrap(), latin1);
    }
}
