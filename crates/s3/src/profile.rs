//! The environment ferry reads its settings from, and the AWS shared files (`~/.aws/config`,
//! `~/.aws/credentials`) in the profile format the AWS CLI and SDKs share.
//!
//! The parser follows the AWS SDKs' profile-file rules rather than generic INI: `[profile x]` in
//! the config file but `[x]` in the credentials file, indented sub-properties under an empty
//! key (`s3 =` then `  addressing_style = path`), `[services x]` sections, and `#`/`;` comments.
//! Generic INI crates get those wrong, so this small parser is ours.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// A view of environment variables: the process's own, or a fixed map (for tests and for
/// embedders that do not want ferry to read the process environment).
#[derive(Clone, Debug, Default)]
pub struct Env {
    fixed: Option<Arc<HashMap<String, String>>>,
}

impl Env {
    /// The process environment, read at each lookup.
    pub fn process() -> Self {
        Self { fixed: None }
    }

    /// A fixed set of variables; nothing else is visible.
    pub fn from_map(map: HashMap<String, String>) -> Self {
        Self {
            fixed: Some(Arc::new(map)),
        }
    }

    /// A variable's value; unset and empty are the same.
    pub fn var(&self, name: &str) -> Option<String> {
        let v = match &self.fixed {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        v.filter(|v| !v.is_empty())
    }

    /// The home folder (`HOME`).
    pub fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }
}

/// One parsed profile file: section name to (key to value). Sub-properties are stored as
/// `parent.child`.
#[derive(Debug, Default, Clone)]
struct ProfileFile {
    sections: HashMap<String, HashMap<String, String>>,
}

impl ProfileFile {
    /// Parses `text`; `is_config` selects the config file's `[profile x]` naming.
    fn parse(text: &str, is_config: bool) -> Result<Self, String> {
        // A file saved by Notepad begins with a byte order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut file = ProfileFile::default();
        let mut section: Option<String> = None;
        let mut parent: Option<String> = None;
        let mut last_key: Option<String> = None;
        for (n, raw) in text.lines().enumerate() {
            let line_no = n + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            let indented = raw.starts_with(' ') || raw.starts_with('\t');
            if trimmed.starts_with('[') && !indented {
                let Some(end) = trimmed.find(']') else {
                    return Err(format!("line {line_no}: section header without ']'"));
                };
                let name = trimmed[1..end].trim();
                section = Self::section_name(name, is_config);
                parent = None;
                last_key = None;
                if let Some(s) = &section {
                    file.sections.entry(s.clone()).or_default();
                }
                continue;
            }
            let Some(current) = section.clone() else {
                // Properties before any section are ignored, as the SDKs do.
                continue;
            };
            let props = file.sections.entry(current).or_default();
            if indented {
                if let Some(p) = &parent {
                    let (k, v) = split_property(trimmed)
                        .ok_or_else(|| format!("line {line_no}: expected 'key = value'"))?;
                    props.insert(format!("{p}.{k}"), v);
                } else if let Some(k) = &last_key {
                    // A continuation line of the previous value.
                    let v = props.get_mut(k).expect("last key was inserted");
                    v.push('\n');
                    v.push_str(trimmed);
                } else {
                    return Err(format!("line {line_no}: indented line outside a property"));
                }
                continue;
            }
            let (k, v) = split_property(trimmed)
                .ok_or_else(|| format!("line {line_no}: expected 'key = value'"))?;
            if v.is_empty() {
                parent = Some(k.clone());
                last_key = None;
            } else {
                parent = None;
                last_key = Some(k.clone());
            }
            props.insert(k, v);
        }
        Ok(file)
    }

    /// The key under which a section is stored: `profile:NAME` or `services:NAME`; `None` for
    /// sections this file kind does not define (skipped, as the SDKs do).
    fn section_name(header: &str, is_config: bool) -> Option<String> {
        let mut words = header.split_whitespace();
        let first = words.next()?;
        let second = words.next();
        if words.next().is_some() {
            return None;
        }
        match (is_config, first, second) {
            (true, "default", None) => Some("profile:default".into()),
            (true, "profile", Some(name)) => Some(format!("profile:{name}")),
            (true, "services", Some(name)) => Some(format!("services:{name}")),
            (false, name, None) => Some(format!("profile:{name}")),
            _ => None,
        }
    }
}

fn split_property(line: &str) -> Option<(String, String)> {
    let (k, v) = line.split_once('=')?;
    let k = k.trim().to_ascii_lowercase();
    if k.is_empty() {
        return None;
    }
    // An inline comment starts at whitespace followed by '#' or ';'.
    let mut value = v.trim();
    for marker in [" #", "\t#", " ;", "\t;"] {
        if let Some(i) = value.find(marker) {
            value = value[..i].trim_end();
        }
    }
    Some((k, value.to_string()))
}

/// The credentials and config files together, credentials first.
#[derive(Debug, Default, Clone)]
pub struct ProfileSet {
    credentials: ProfileFile,
    config: ProfileFile,
}

impl ProfileSet {
    /// The paths of the credentials and config files the environment points at.
    pub fn paths(env: &Env) -> (Option<PathBuf>, Option<PathBuf>) {
        let home = env.home();
        let home_aws = home.as_ref().map(|h| h.join(".aws"));
        // A leading `~` is the home folder, as the AWS CLI reads it: a value set where no
        // shell expands it (a quoted export, a container's or a service's environment).
        let given = |var: &str| {
            env.var(var).map(|v| match (v.strip_prefix('~'), &home) {
                (Some(""), Some(h)) => h.clone(),
                (Some(rest), Some(h)) if rest.starts_with('/') => h.join(&rest[1..]),
                _ => PathBuf::from(v),
            })
        };
        let creds = given("AWS_SHARED_CREDENTIALS_FILE")
            .or_else(|| home_aws.as_ref().map(|d| d.join("credentials")));
        let config =
            given("AWS_CONFIG_FILE").or_else(|| home_aws.as_ref().map(|d| d.join("config")));
        (creds, config)
    }

    /// Reads both files; a missing file is empty, an unreadable or malformed one an error.
    pub fn load(env: &Env) -> Result<Self, String> {
        let (creds, config) = Self::paths(env);
        let read = |p: Option<PathBuf>, is_config: bool| -> Result<ProfileFile, String> {
            let Some(p) = p else {
                return Ok(ProfileFile::default());
            };
            match std::fs::read_to_string(&p) {
                Ok(text) => ProfileFile::parse(&text, is_config)
                    .map_err(|e| format!("{}: {e}", p.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ProfileFile::default()),
                Err(e) => Err(format!("cannot read {}: {e}", p.display())),
            }
        };
        Ok(Self {
            credentials: read(creds, false)?,
            config: read(config, true)?,
        })
    }

    /// Parses both files from text (tests).
    pub fn from_text(credentials: &str, config: &str) -> Result<Self, String> {
        Ok(Self {
            credentials: ProfileFile::parse(credentials, false)?,
            config: ProfileFile::parse(config, true)?,
        })
    }

    /// A profile property: the credentials file first, then the config file.
    pub fn get(&self, profile: &str, key: &str) -> Option<String> {
        let section = format!("profile:{profile}");
        [&self.credentials, &self.config]
            .into_iter()
            .find_map(|f| f.sections.get(&section)?.get(key).cloned())
            .filter(|v| !v.is_empty())
    }

    /// An S3 setting of a profile: `s3.KEY` in the profile itself, else in the `[services x]`
    /// section the profile names with `services = x`.
    pub fn get_s3(&self, profile: &str, key: &str) -> Option<String> {
        self.get(profile, &format!("s3.{key}")).or_else(|| {
            let services = self.get(profile, "services")?;
            self.config
                .sections
                .get(&format!("services:{services}"))?
                .get(&format!("s3.{key}"))
                .cloned()
        })
    }

    /// Whether the profile exists in either file.
    pub fn has_profile(&self, profile: &str) -> bool {
        let section = format!("profile:{profile}");
        self.credentials.sections.contains_key(&section)
            || self.config.sections.contains_key(&section)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
# a comment
[default]
region = eu-west-1 ; trailing comment
s3 =
  addressing_style = path
  max_concurrent_requests = 20

[profile dev]
region=us-west-2
services = local
aws_access_key_id = CONFIGAK

[services local]
s3 =
  endpoint_url = http://127.0.0.1:9000

[plugins]
x = y
";

    const CREDENTIALS: &str = "\
[default]
aws_access_key_id = DEFAULTAK
aws_secret_access_key = DEFAULTSK

[dev]
aws_access_key_id=DEVAK
aws_secret_access_key=DEVSK
aws_session_token = DEVTOKEN
";

    #[test]
    fn config_and_credentials_sections() {
        let p = ProfileSet::from_text(CREDENTIALS, CONFIG).unwrap();
        // The credentials file wins over the config file for "dev"'s keys; `s3` reads the
        // profile's `s3 =` section.
        for (profile, key, s3, want) in [
            ("default", "region", false, "eu-west-1"),
            ("default", "aws_access_key_id", false, "DEFAULTAK"),
            ("default", "addressing_style", true, "path"),
            ("dev", "region", false, "us-west-2"),
            ("dev", "aws_access_key_id", false, "DEVAK"),
            ("dev", "aws_session_token", false, "DEVTOKEN"),
            ("dev", "endpoint_url", true, "http://127.0.0.1:9000"),
        ] {
            let got = if s3 {
                p.get_s3(profile, key)
            } else {
                p.get(profile, key)
            };
            assert_eq!(got.as_deref(), Some(want), "{profile} {key}");
        }
        assert!(p.has_profile("dev"));
        assert!(!p.has_profile("plugins"));
    }

    #[test]
    fn files_saved_on_windows_read_the_same() {
        // Notepad's byte order mark, and CRLF line ends.
        let text = "\u{feff}[default]\r\naws_access_key_id = AK\r\nregion = eu-west-1\r\n";
        let p = ProfileSet::from_text(text, "").unwrap();
        assert_eq!(p.get("default", "aws_access_key_id").as_deref(), Some("AK"));
        assert_eq!(p.get("default", "region").as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn profile_keyword_only_in_config_file() {
        // In the credentials file, "[profile x]" is not a profile named x.
        let p = ProfileSet::from_text("[profile x]\naws_access_key_id = A\n", "").unwrap();
        assert_eq!(p.get("x", "aws_access_key_id"), None);
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(ProfileSet::from_text("[default]\nnot a property\n", "").is_err());
        assert!(ProfileSet::from_text("[default\n", "").is_err());
    }

    #[test]
    fn fixed_env_sees_only_its_map() {
        let env = Env::from_map(HashMap::from([("HOME".into(), "/h".into())]));
        assert_eq!(env.home(), Some(PathBuf::from("/h")));
        assert_eq!(env.var("PATH"), None);
        let (c, k) = ProfileSet::paths(&env);
        assert_eq!(c, Some(PathBuf::from("/h/.aws/credentials")));
        assert_eq!(k, Some(PathBuf::from("/h/.aws/config")));
    }

    #[test]
    fn a_file_variable_starting_with_a_tilde_is_below_home() {
        let env = Env::from_map(HashMap::from([
            ("HOME".into(), "/h".into()),
            ("AWS_CONFIG_FILE".into(), "~/.aws/other".into()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "~user/creds".into()),
        ]));
        let (c, k) = ProfileSet::paths(&env);
        assert_eq!(k, Some(PathBuf::from("/h/.aws/other")));
        // Another user's home is not looked up: taken as it is.
        assert_eq!(c, Some(PathBuf::from("~user/creds")));
    }
}
