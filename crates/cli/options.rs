//! Flag values checked and turned into the engine's settings: sizes and rates, checksums,
//! what a new object carries, how to upload or download, and the budgets. Every message
//! names the flag at fault.

use std::path::Path;
use std::time::Duration;

use ferry_engine::{
    ChecksumMode, DirectIo, DownloadSettings, FailurePolicy, ManagerConfig, PlanConfig,
    UploadSettings, VerifyMode,
};
use ferry_s3::{
    ChecksumAlgorithm, ChecksumType, ContentHeaders, Grantee, Grants, ObjectOptions,
    RequestOptions, ServerSideEncryption, SseCustomerKey,
};

use crate::args::{BucketFlags, BudgetFlags, CpArgs, GrantFlags, ObjectFlags, SourceFlags};
use crate::bwlimit::Limit;
use crate::exit::{CliError, bad_input};
use crate::lock::flags::{Lock, LockFlags, object_lock};
pub(crate) use crate::size::parse_size;
use crate::stop::{Cutoff, Limits};

impl GrantFlags {
    /// Each grant flag, with whether it was given.
    pub(crate) fn given(&self) -> [(&'static str, bool); 4] {
        [
            ("--grant-read", self.grant_read.is_some()),
            ("--grant-read-acp", self.grant_read_acp.is_some()),
            ("--grant-write-acp", self.grant_write_acp.is_some()),
            ("--grant-full-control", self.grant_full_control.is_some()),
        ]
    }

    /// The grants the flags give, with `write` (which only `acl set` takes).
    pub(crate) fn grants(&self, write: Vec<Grantee>) -> Result<Grants, CliError> {
        Ok(Grants {
            read: grantees(&self.grant_read)?,
            read_acp: grantees(&self.grant_read_acp)?,
            write,
            write_acp: grantees(&self.grant_write_acp)?,
            full_control: grantees(&self.grant_full_control)?,
        })
    }
}

impl BucketFlags {
    /// What every request to the bucket carries, with the SSE-C key a flag gives
    /// (`--sse-c-key`), if any.
    pub(crate) fn request(&self, sse_c: &Option<String>) -> Result<RequestOptions, CliError> {
        Ok(RequestOptions {
            sse_customer_key: sse_c.as_deref().map(sse_c_key).transpose()?,
            expected_bucket_owner: self.expected_bucket_owner.clone(),
            request_payer: self.request_payer.is_some(),
        })
    }

    /// What every request to a copy's source carries: its SSE-C key
    /// (`--source-sse-c-key`), and the payer's agreement, which covers both buckets. The
    /// expected owner is the destination's.
    pub(crate) fn source_request(
        &self,
        sse_c: &Option<String>,
    ) -> Result<RequestOptions, CliError> {
        Ok(RequestOptions {
            expected_bucket_owner: None,
            ..self.request(sse_c)?
        })
    }
}

impl SourceFlags {
    /// The flags that put a copy's source on another server (or behind other credentials),
    /// each with whether it was given.
    pub(crate) fn server(&self) -> [(&'static str, bool); 3] {
        [
            ("--source-endpoint-url", self.source_endpoint_url.is_some()),
            ("--source-profile", self.source_profile.is_some()),
            ("--source-region", self.source_region.is_some()),
        ]
    }

    /// Every source flag, with whether it was given: those of [`server`](Self::server) and
    /// `--source-sse-c-key`.
    pub(crate) fn given(&self) -> Vec<(&'static str, bool)> {
        let mut flags = self.server().to_vec();
        flags.push(("--source-sse-c-key", self.source_sse_c_key.is_some()));
        flags
    }
}

/// The tags of `--tagging`: `k1=v1&k2=v2`, each key and value with its `%XX` escapes
/// decoded, as the aws cli's `--tagging` takes them (`%26` for `&`, `%3D` for `=`); a `+` is
/// a plus.
fn tags(t: &str) -> Result<Vec<(String, String)>, CliError> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|d| d.into_owned())
            .map_err(|_| {
                bad_input(format!(
                    "--tagging: {s:?} is not UTF-8 once its %XX escapes are decoded"
                ))
            })
    };
    t.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

/// The grantees of one `--grant-*` flag: `id=…`, `uri=…` or `emailAddress=…`, comma-separated.
pub(crate) fn grantees(list: &Option<String>) -> Result<Vec<Grantee>, CliError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.split(',')
        .filter(|g| !g.trim().is_empty())
        .map(|g| g.parse::<Grantee>().map_err(bad_input))
        .collect()
}

pub(crate) fn sse_c_key(v: &str) -> Result<SseCustomerKey, CliError> {
    match v.strip_prefix('@') {
        Some(path) => {
            let raw = std::fs::read(path)
                .map_err(|e| bad_input(format!("cannot read the SSE-C key file {path}: {e}")))?;
            SseCustomerKey::new(&raw).map_err(|e| bad_input(format!("{path}: {e}")))
        }
        None => SseCustomerKey::from_base64(v).map_err(|e| {
            bad_input(format!(
                "{e}: give the 32-byte key in base64, or @FILE holding its raw bytes"
            ))
        }),
    }
}

fn checksum_mode(args: &CpArgs) -> Result<ChecksumMode, CliError> {
    let alg = args.checksum.as_deref().map(str::to_ascii_lowercase);
    let ty = args
        .checksum_type
        .as_deref()
        .map(|t| t.parse::<ChecksumType>().map_err(bad_input))
        .transpose()?;
    match alg.as_deref() {
        Some("none") | Some("md5") if ty.is_some() => Err(bad_input(
            "--checksum-type needs an additional checksum algorithm, not none or md5",
        )),
        Some("none") => Ok(ChecksumMode::None),
        Some("md5") => Ok(ChecksumMode::ContentMd5),
        other => {
            let a = match other {
                Some(a) => a
                    .parse::<ChecksumAlgorithm>()
                    .map_err(|e| bad_input(format!("{e}; or md5 (Content-MD5 only) or none")))?,
                None => ChecksumAlgorithm::Crc64Nvme,
            };
            let t = ty.unwrap_or(if a.allows(ChecksumType::FullObject) {
                ChecksumType::FullObject
            } else {
                ChecksumType::Composite
            });
            if !a.allows(t) {
                return Err(bad_input(format!(
                    "checksum algorithm {a} cannot be used with type {t} (CRC64NVME is FULL_OBJECT only; SHA1 and SHA256 are COMPOSITE only)"
                )));
            }
            Ok(ChecksumMode::Additional(a, t))
        }
    }
}

/// Every flag of what a new object carries and how it is encrypted (but the SSE-C key, which
/// reading takes too), each with whether it was given.
pub(crate) fn new_object_flags(args: &ObjectFlags) -> Vec<(&'static str, bool)> {
    let mut flags = object_content_flags(args).to_vec();
    flags.extend([
        ("--no-guess-mime-type", args.no_guess_mime_type),
        ("--storage-class", args.storage_class.is_some()),
        ("--website-redirect", args.website_redirect.is_some()),
        ("--acl", args.acl.is_some()),
    ]);
    flags.extend(args.grants.given());
    flags.extend([
        ("--object-lock-mode", args.object_lock_mode.is_some()),
        (
            "--object-lock-retain-until-date",
            args.object_lock_retain_until_date.is_some(),
        ),
        (
            "--object-lock-legal-hold-status",
            args.object_lock_legal_hold_status.is_some(),
        ),
        ("--sse", args.sse.is_some()),
        ("--sse-kms-key-id", args.sse_kms_key_id.is_some()),
    ]);
    flags
}

/// The flags that set what a new object carries (its content headers, metadata and tags),
/// each with whether it was given.
pub(crate) fn object_content_flags(args: &ObjectFlags) -> [(&'static str, bool); 8] {
    [
        ("--content-type", args.content_type.is_some()),
        ("--cache-control", args.cache_control.is_some()),
        ("--content-disposition", args.content_disposition.is_some()),
        ("--content-encoding", args.content_encoding.is_some()),
        ("--content-language", args.content_language.is_some()),
        ("--expires", args.expires.is_some()),
        ("--metadata", !args.metadata.is_empty()),
        ("--tagging", args.tagging.is_some()),
    ]
}

/// Refuses the flags that only a copy between S3 locations takes.
pub(crate) fn copy_only(args: &CpArgs) -> Result<(), CliError> {
    let mut flags = vec![
        ("--metadata-directive", args.metadata_directive.is_some()),
        ("--copy-props", args.copy_props.value.is_some()),
    ];
    flags.extend(args.source.given());
    refuse_flags(&flags, "for copies between S3 locations")
}

/// Bad input naming every flag of `flags` that was given: "--a, --b are `why`".
pub(crate) fn refuse_flags(flags: &[(&str, bool)], why: &str) -> Result<(), CliError> {
    let set: Vec<&str> = flags
        .iter()
        .filter(|(_, on)| *on)
        .map(|(f, _)| *f)
        .collect();
    if set.is_empty() {
        Ok(())
    } else {
        Err(bad_input(format!(
            "{} {} {why}",
            set.join(", "),
            if set.len() == 1 { "is" } else { "are" }
        )))
    }
}

/// The object options the flags ask for, sent to the bucket as `bucket` asks.
pub(crate) fn object_options(
    flags: &ObjectFlags,
    bucket: &BucketFlags,
    src: Option<&Path>,
) -> Result<ObjectOptions, CliError> {
    let mut metadata = std::collections::BTreeMap::new();
    for kv in &flags.metadata {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| bad_input(format!("--metadata {kv:?}: expected KEY=VALUE")))?;
        metadata.insert(k.trim().to_ascii_lowercase(), v.to_string());
    }
    let tagging = match &flags.tagging {
        Some(t) => tags(t)?,
        None => Vec::new(),
    };
    let sse = match flags.sse.as_deref() {
        None if flags.sse_kms_key_id.is_some() => {
            return Err(bad_input(
                "--sse-kms-key-id needs --sse aws:kms (or aws:kms:dsse)",
            ));
        }
        None => None,
        Some(s) if s.eq_ignore_ascii_case("AES256") => Some(ServerSideEncryption::S3),
        Some(s) if ferry_s3::is_kms(&s.to_ascii_lowercase()) => Some(ServerSideEncryption::Kms {
            key_id: flags.sse_kms_key_id.clone(),
            context: None,
            bucket_key: None,
            dual_layer: s.eq_ignore_ascii_case("aws:kms:dsse"),
        }),
        Some(other) => {
            return Err(bad_input(format!(
                "--sse {other:?}: use AES256, aws:kms or aws:kms:dsse (and --sse-c-key for SSE-C)"
            )));
        }
    };
    let Lock { retention, hold } = object_lock(LockFlags {
        mode: flags.object_lock_mode.as_deref(),
        until: flags.object_lock_retain_until_date.as_deref(),
        hold: flags.object_lock_legal_hold_status.as_deref(),
        names: [
            "--object-lock-mode",
            "--object-lock-retain-until-date",
            "--object-lock-legal-hold-status",
        ],
    })?;
    let guessed = || {
        src.filter(|_| flags.guesses_content_type())
            .and_then(|p| mime_guess::from_path(p).first_raw().map(str::to_string))
    };
    let content_type = flags.content_type.clone().or_else(guessed);
    let options = ObjectOptions {
        content: ContentHeaders {
            content_type,
            content_encoding: flags.content_encoding.clone(),
            content_disposition: flags.content_disposition.clone(),
            content_language: flags.content_language.clone(),
            cache_control: flags.cache_control.clone(),
            expires: flags
                .expires
                .as_deref()
                .map(|w| {
                    crate::when::http_date(w, time::OffsetDateTime::now_utc()).ok_or_else(|| {
                        bad_input(format!(
                            "--expires {w:?}: give a time (2030-01-01T00:00:00Z), a day \
                             (2030-01-01), a span from now (30d, 12h, 1y) or an HTTP date \
                             (Tue, 01 Jan 2030 00:00:00 GMT)"
                        ))
                    })
                })
                .transpose()?,
        },
        metadata,
        // S3's classes in any case, as S3 spells them; a store's own as given.
        storage_class: flags.storage_class.as_deref().map(|c| {
            ferry_s3::storage_class_named(c).map_or_else(|| c.to_string(), str::to_string)
        }),
        tagging,
        sse,
        website_redirect: flags.website_redirect.clone(),
        acl: flags.acl.clone(),
        grants: flags.grants.grants(Vec::new())?,
        object_lock_mode: retention.as_ref().map(|(m, _)| *m),
        object_lock_retain_until: retention.map(|(_, until)| until),
        object_lock_legal_hold: hold,
        request: bucket.request(&flags.sse_c_key)?,
        ..Default::default()
    };
    options.validate().map_err(bad_input)?;
    Ok(options)
}

/// How to upload, as the flags ask.
pub(crate) fn upload_settings(args: &CpArgs) -> Result<UploadSettings, CliError> {
    let part_size = part_size(&args.part_size)?;
    let on_failure = choice(
        "--on-failure",
        &args.on_failure,
        FailurePolicy::Auto,
        &[
            ("keep", FailurePolicy::Keep),
            ("abort", FailurePolicy::Abort),
        ],
    )?;
    Ok(UploadSettings {
        plan: PlanConfig {
            part_size,
            ..Default::default()
        },
        checksum: checksum_mode(args)?,
        no_clobber: args.no_clobber,
        sign_payload: args.sign_payload,
        on_failure,
        direct_io: direct_io(args)?,
        restart: args.restart,
        // `mv` sets it on the request it builds.
        remove_source: false,
    })
}

/// `--part-size` of an upload or a copy, checked against S3's limits.
pub(crate) fn part_size(flag: &Option<String>) -> Result<Option<u64>, CliError> {
    let part_size = size_flag("--part-size", flag)?;
    if let Some(ps) = part_size {
        ferry_engine::check_part_size(ps).map_err(bad_input)?;
    }
    Ok(part_size)
}

/// `--part-size` of a download: the size of each ranged GET.
pub(crate) fn range_size(flag: &Option<String>) -> Result<Option<u64>, CliError> {
    let size = size_flag("--part-size", flag)?;
    if size.is_some_and(|v| !(64 << 10..=5 << 30).contains(&v)) {
        return Err(bad_input(
            "--part-size: a download's ranges must be 64KiB to 5GiB",
        ));
    }
    Ok(size)
}

/// An exact byte count (`--expected-size`): bytes, or a whole number of KiB, MiB, GiB or TiB.
/// `30MB` and the like are refused: read as 2^20 here (as for the other sizes, and the aws
/// cli's), as 10^6 by others, and a stream of the other size fails only at its end.
pub(crate) fn parse_exact_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = t[digits.len()..].to_ascii_lowercase();
    let whole = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
    if !whole || !["", "kib", "mib", "gib", "tib"].contains(&unit.as_str()) {
        return Err(format!(
            "{s:?} is not an exact size: give bytes (e.g. 30000000) or a whole number of KiB, \
             MiB, GiB or TiB"
        ));
    }
    parse_size(t)
}

/// A size flag's value, if given.
pub(crate) fn size_flag(flag: &str, v: &Option<String>) -> Result<Option<u64>, CliError> {
    v.as_deref()
        .map(|s| parse_size(s).map_err(|e| bad_input(format!("{flag}: {e}"))))
        .transpose()
}

/// The limits the flags set: a span of 1 s to 365 days, as humantime reads it; a size of
/// 1 byte or more.
pub(crate) fn limits(flags: &BudgetFlags) -> Result<Limits, CliError> {
    let duration = match &flags.max_duration {
        None => None,
        Some(span) => {
            let bad = |why: &str| {
                bad_input(format!(
                    "--max-duration {span:?}: {why}; give a span such as 45m, 6h or 1h30m"
                ))
            };
            let d = humantime::parse_duration(span.trim()).map_err(|e| bad(&e.to_string()))?;
            if d < Duration::from_secs(1) || d > Duration::from_secs(365 * 86_400) {
                return Err(bad("it must be 1s to 365 days"));
            }
            Some(d)
        }
    };
    let transfer = size_flag("--max-transfer", &flags.max_transfer)?;
    if transfer == Some(0) {
        return Err(bad_input("--max-transfer: give 1 byte or more"));
    }
    let cutoff = match flags.cutoff_mode.as_deref() {
        None | Some("soft") => Cutoff::Soft,
        Some("hard") => Cutoff::Hard,
        Some(_) => Cutoff::Cautious,
    };
    if cutoff == Cutoff::Cautious && transfer.is_none() {
        return Err(bad_input(
            "--cutoff-mode cautious keeps a run under --max-transfer: give that too",
        ));
    }
    Ok(Limits {
        duration,
        transfer,
        cutoff,
    })
}

/// The budgets the flags ask for: `--concurrency` (requests in flight, and parts of one
/// object), `--memory-limit` (`memory` by default), `--bwlimit`; with the process's limit on
/// open files raised to fit them (or, where it cannot be, fewer requests in flight).
pub(crate) fn manager_config(flags: &BudgetFlags, memory: u64) -> Result<ManagerConfig, CliError> {
    let BudgetFlags {
        concurrency,
        memory_limit,
        bwlimit,
        max_duration: _,
        max_transfer: _,
        cutoff_mode: _,
    } = flags;
    let mut config = ManagerConfig {
        memory_limit: memory,
        ..Default::default()
    };
    if let Some(c) = *concurrency {
        if c == 0 || c > 1024 {
            return Err(bad_input("--concurrency: give 1 to 1024"));
        }
        config.max_requests = c;
        config.parts_per_object = c;
    }
    if let Some(m) = size_flag("--memory-limit", memory_limit)? {
        if m < 8 << 20 {
            return Err(bad_input("--memory-limit: give at least 8MiB"));
        }
        config.memory_limit = m;
    }
    if let Some(rate) = bwlimit {
        match crate::bwlimit::parse(rate).map_err(|e| bad_input(format!("--bwlimit: {e}")))? {
            Limit::Fixed(b) => config.bandwidth = b,
            Limit::Timetable(t) => {
                config.bandwidth = t.rate_at(crate::bwlimit::now());
                t.keep();
            }
        }
    }
    let limits = limits(flags)?;
    if limits.cutoff == Cutoff::Cautious {
        config.transfer_allowance = limits.transfer;
        if let Some(max) = limits.transfer {
            crate::stop::allowance_given(max);
        }
    }
    let asked = config.max_requests;
    let fit = config.fit_open_files();
    if let Some(from) = fit.lowered_from {
        tracing::warn!(
            "this process may open {} files at most (ulimit -n), too few for {from} requests \
             in flight: {} at a time instead; raise the hard limit to go faster",
            fit.limit,
            config.max_requests
        );
    } else {
        tracing::debug!(
            "open files allowed: {} ({asked} requests in flight)",
            fit.limit
        );
    }
    Ok(config)
}

/// Refuses the flags that shape the object an upload writes: meaningless for a download.
pub(crate) fn upload_only(args: &CpArgs) -> Result<(), CliError> {
    let mut flags = vec![
        ("--checksum", args.checksum.is_some()),
        ("--checksum-type", args.checksum_type.is_some()),
        ("--expected-size", args.expected_size.is_some()),
        ("--sign-payload", args.sign_payload),
        ("--on-failure", args.on_failure.is_some()),
    ];
    flags.extend(new_object_flags(&args.object));
    flags.push(("--state-dir", args.state_dir.is_some()));
    refuse_flags(&flags, "for uploads; a download keeps the object as it is")
}

/// How to download, as the flags ask.
pub(crate) fn download_settings(args: &CpArgs) -> Result<DownloadSettings, CliError> {
    upload_only(args)?;
    let mut config = DownloadSettings {
        no_clobber: args.no_clobber,
        restart: args.restart,
        ..Default::default()
    };
    if let Some(v) = range_size(&args.part_size)? {
        config.range_size = v;
    }
    config.verify = choice(
        "--verify",
        &args.verify,
        VerifyMode::Auto,
        &[
            ("auto", VerifyMode::Auto),
            ("require", VerifyMode::Require),
            ("none", VerifyMode::Off),
        ],
    )?;
    config.direct_io = direct_io(args)?;
    Ok(config)
}

/// `--direct-io`, for uploads and downloads.
pub(crate) fn direct_io(args: &CpArgs) -> Result<DirectIo, CliError> {
    choice(
        "--direct-io",
        &args.direct_io,
        DirectIo::Auto,
        &[
            ("auto", DirectIo::Auto),
            ("always", DirectIo::Always),
            ("never", DirectIo::Never),
        ],
    )
}

/// The value of a flag that takes one of a few words: `default` when it is not given.
fn choice<T: Copy>(
    flag: &str,
    given: &Option<String>,
    default: T,
    words: &[(&str, T)],
) -> Result<T, CliError> {
    let Some(given) = given.as_deref() else {
        return Ok(default);
    };
    if let Some((_, v)) = words.iter().find(|(w, _)| *w == given) {
        return Ok(*v);
    }
    let names: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
    let (last, rest) = names.split_last().expect("a choice has words");
    let list = match rest {
        [] => last.to_string(),
        rest => format!("{} or {last}", rest.join(", ")),
    };
    Err(bad_input(format!("{flag} {given:?}: use {list}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_sizes_are_bytes_or_whole_binary_units() {
        assert_eq!(parse_exact_size("30000000"), Ok(30_000_000));
        assert_eq!(parse_exact_size("30MiB"), Ok(30 << 20));
        assert_eq!(parse_exact_size("2gib"), Ok(2 << 30));
        for ambiguous in ["30MB", "30M", "1.5GiB", "8k", "MiB", "-1", "3 0"] {
            let e = parse_exact_size(ambiguous).unwrap_err();
            assert!(e.contains("not an exact size"), "{ambiguous}: {e}");
        }
    }

    #[test]
    fn tags_decode_their_escapes_and_keep_a_plus() {
        let t = tags("k 1=v 1&k2=a%2Bb&k3=x+y&eq=a%3Db%26c&empty=&bare").unwrap();
        let want = [
            ("k 1", "v 1"),
            ("k2", "a+b"),
            ("k3", "x+y"),
            ("eq", "a=b&c"),
            ("empty", ""),
            ("bare", ""),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(t, want);
        let e = tags("k=%FF").unwrap_err();
        assert!(
            matches!(&e, CliError::BadInput(e) if e.to_string().contains("not UTF-8")),
            "{e:?}"
        );
    }
}
