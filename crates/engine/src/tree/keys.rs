//! How a tree's files and keys map onto each other: a file's path below the folder joined by
//! `/` after the prefix, and back; keys that cannot be a path below the folder are refused,
//! and a key that is also another key's folder is caught as the listing streams by.

use std::path::{Component, Path, PathBuf};

/// `prefix` as a folder: empty (the whole bucket) or ending in `/`.
pub fn as_folder(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_string()
    } else {
        format!("{prefix}/")
    }
}

/// The key of the file at `rel` (a path below the folder): the prefix and the path's
/// components joined by `/`.
pub(crate) fn key_for(prefix: &str, rel: &Path) -> Result<String, String> {
    let mut key = prefix.to_string();
    for (i, c) in rel.components().enumerate() {
        let Component::Normal(name) = c else {
            return Err(format!("{} is not a path below the folder", rel.display()));
        };
        let name = name.to_str().ok_or_else(|| {
            format!(
                "{}: the name is not UTF-8, and a key must be; rename it",
                rel.display()
            )
        })?;
        if i > 0 {
            key.push('/');
        }
        key.push_str(name);
    }
    Ok(key)
}

/// Where the object `key` listed under `prefix` goes below `root`: `None` for a folder
/// marker (a key ending in `/`); an error for a key that cannot be a path below `root`
/// (`.`, `..` or empty segments, a NUL byte).
pub(crate) fn path_for(root: &Path, prefix: &str, key: &str) -> Result<Option<PathBuf>, String> {
    let rel = key
        .strip_prefix(prefix)
        .ok_or_else(|| format!("{key:?} is not under {prefix:?}"))?;
    if rel.is_empty() || rel.ends_with('/') {
        return Ok(None);
    }
    if let Some(bad) = rel
        .split('/')
        .find(|s| s.is_empty() || *s == "." || *s == ".." || s.contains('\0'))
    {
        return Err(format!(
            "the key {key:?} has a segment {bad:?} that cannot be a file name below {}; \
             copy it alone to a file of your choosing",
            root.display()
        ));
    }
    Ok(Some(root.join(rel)))
}

/// The keys listed so far that a later key could have as its folder (`a`, then `a/b`). In
/// listing order a key's folders come before it, and every key below `a/` comes together, so
/// a key is dropped once the listing is past `a/…`: only a handful are ever held.
#[derive(Debug, Default)]
pub(crate) struct Folders {
    open: Vec<String>,
}

impl Folders {
    /// Takes the next key in listing order: the earlier key that would be its folder, if any.
    pub(crate) fn check(&mut self, key: &str) -> Option<String> {
        self.open.retain(|p| {
            let folder = format!("{p}/");
            key.starts_with(&folder) || key.as_bytes() < folder.as_bytes()
        });
        let parent = self
            .open
            .iter()
            .find(|p| key.starts_with(&format!("{p}/")))
            .cloned();
        self.open.push(key.to_string());
        parent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_become_folders() {
        assert_eq!(as_folder(""), "");
        assert_eq!(as_folder("p"), "p/");
        assert_eq!(as_folder("p/"), "p/");
        assert_eq!(as_folder("a/b"), "a/b/");
    }

    #[test]
    fn files_map_to_keys_below_the_prefix() {
        assert_eq!(key_for("p/", Path::new("a/b.txt")).unwrap(), "p/a/b.txt");
        assert_eq!(key_for("", Path::new("x")).unwrap(), "x");
        assert!(key_for("p/", Path::new("../x")).is_err());
        assert!(key_for("p/", Path::new("/abs")).is_err());
        use std::os::unix::ffi::OsStrExt as _;
        let bad = std::ffi::OsStr::from_bytes(b"caf\xe9");
        let err = key_for("p/", Path::new(bad)).unwrap_err();
        assert!(err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn keys_map_to_paths_below_the_folder_or_are_refused() {
        let root = Path::new("/dl");
        assert_eq!(
            path_for(root, "p/", "p/a/b").unwrap(),
            Some(PathBuf::from("/dl/a/b"))
        );
        assert_eq!(
            path_for(root, "", "x").unwrap(),
            Some(PathBuf::from("/dl/x"))
        );
        assert_eq!(path_for(root, "p/", "p/").unwrap(), None);
        assert_eq!(path_for(root, "p/", "p/dir/").unwrap(), None);
        for evil in ["p/../etc/passwd", "p/a/../../x", "p/./a", "p//a", "p/a\0b"] {
            let err = path_for(root, "p/", evil).unwrap_err();
            assert!(err.contains("cannot be a file name"), "{evil}: {err}");
        }
        assert!(path_for(root, "p/", "q/x").is_err());
    }

    #[test]
    fn a_key_that_is_another_keys_folder_is_caught_in_listing_order() {
        let mut f = Folders::default();
        // Listing order (bytes): "a" < "a-b" < "a.txt" < "a/x" < "b".
        assert_eq!(f.check("a"), None);
        assert_eq!(f.check("a-b"), None);
        assert_eq!(f.check("a.txt"), None);
        assert_eq!(f.check("a/x"), Some("a".into()));
        assert_eq!(f.check("a/x/y"), Some("a".into()));
        assert_eq!(f.check("b"), None);
        assert!(f.open.len() <= 2, "{:?}", f.open);
        assert_eq!(f.check("b/c"), Some("b".into()));
    }
}
