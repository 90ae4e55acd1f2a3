//! The commands: each parsed, checked (a transfer's flags become one request in `request`)
//! and run; the small ones (`mb`, `presign`) here.

use std::time::Duration;

use ferry_s3::{CreateBucketRequest, GetObjectRequest, ObjectClient};

use crate::args::{Cli, Cmd, CpArgs, Global, PresignArgs};
use crate::client::{client_and_origins, parse_object_url, parse_s3_url, plain_manager};
use crate::exit::{CliError, bad_input, engine_error};
use crate::output::outln;

pub(crate) async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Cmd::Cp(args) => cp(&cli.global, &args, false).await,
        Cmd::Mv(args) => cp(&cli.global, &args, true).await,
        Cmd::Acl(cmd) => crate::acl::run(&cli.global, cmd).await,
        Cmd::Sync(args) => crate::sync::run(&cli.global, *args).await,
        Cmd::Check(args) => crate::check::run(&cli.global, *args).await,
        Cmd::Config => crate::client::show_config(&cli.global).await,
        Cmd::Plan(args) => crate::scale::plan(&cli.global, *args).await,
        Cmd::Finish(args) => crate::scale::finish(&cli.global, args).await,
        Cmd::Ls(args) => {
            let note = args
                .target
                .as_deref()
                .and_then(|t| wildcard_note("ls", t, ""));
            let listed = crate::objects::ls(&cli.global, args).await;
            listed.map_err(|e| e.noted(note))
        }
        Cmd::Du(args) => {
            let note = wildcard_note("du", &args.target, "");
            let counted = crate::objects::ls(&cli.global, args.listing()).await;
            counted.map_err(|e| e.noted(note))
        }
        Cmd::Lock(args) => crate::lock::run(&cli.global, *args).await,
        Cmd::Restore(args) => crate::restore::run(&cli.global, *args).await,
        Cmd::Rm(args) => {
            let note = args.targets.iter().find_map(|t| wildcard_note("rm", t, ""));
            let removed = crate::objects::rm(&cli.global, *args).await;
            removed.map_err(|e| e.noted(note))
        }
        Cmd::Stat(args) => {
            let note = wildcard_note("stat", &args.target, "");
            let shown = crate::stat::run(&cli.global, args).await;
            shown.map_err(|e| e.noted(note))
        }
        Cmd::Versioning(args) => crate::bucket::versioning(&cli.global, args).await,
        Cmd::Mb {
            bucket,
            object_lock,
            versioning,
            quiet,
        } => mb(&cli.global, &bucket, (object_lock, versioning), quiet).await,
        Cmd::Rb {
            bucket,
            force,
            quiet,
        } => crate::objects::rb(&cli.global, &bucket, force, quiet).await,
        Cmd::Presign(args) => presign(&cli.global, args).await,
        Cmd::Resume(args) => crate::run::resume(&cli.global, args).await,
        Cmd::Uploads(cmd) => crate::uploads::run(&cli.global, cmd).await,
    }
}

/// `cp`, or `mv` (`moving`): checked into one request, then run.
async fn cp(global: &Global, args: &CpArgs, moving: bool) -> Result<(), CliError> {
    let run = async {
        let cp = crate::request::cp(global, args, moving)?;
        crate::run::cp(global, cp).await
    };
    let verb = if moving { "mv" } else { "cp" };
    run.await
        .map_err(|e| e.noted(wildcard_note(verb, &args.src, &args.dst)))
}

/// For a failed command (`verb`: `cp`, `mv`, `rm`, `ls` or `stat`) whose source (`src`)
/// holds a shell wildcard, as s5cmd takes `s3://b/p/*.log`: that ferry took it literally
/// (`*` is a key's character like any other), and how to pick by pattern, or take all, with
/// `-r` and filters instead. `dst` is the destination, if the command has one.
fn wildcard_note(verb: &str, src: &str, dst: &str) -> Option<String> {
    // Not `[`: file names hold it ("Film [1080p].mkv") far more often than patterns do.
    let first = src.find(['*', '?'])?;
    let (folder, pattern) = src.split_at(src[..first].rfind('/').map_or(0, |i| i + 1));
    let folder = if folder.is_empty() { "." } else { folder };
    let dst = match dst {
        "" => String::new(),
        dst => format!(" {dst}"),
    };
    // `stat` looks at one object: it is shown the listing of what the pattern matches.
    let (verb, doing, after) = match verb {
        "mv" => ("mv", "move", ""),
        "rm" => ("rm", "delete", " (--dry-run first shows what would go)"),
        "ls" | "stat" => ("ls", "list", ""),
        _ => ("cp", "copy", ""),
    };
    let stem = &src[..first];
    // `*` alone (which matches `/` too) picks everything under the folder: no filter needed.
    let how = if verb == "ls" && &src[first..] == "*" && !stem.ends_with('/') {
        // A listing is of what starts with its prefix already.
        format!("to list what starts with {stem}: ferry ls {stem} (-r for every key)")
    } else if pattern == "*" {
        format!("to {doing} everything under {folder}: ferry {verb} -r {folder}{dst}")
    } else {
        format!(
            "to pick by pattern, {doing} what is under it and filter: ferry {verb} -r \
             {folder}{dst} --exclude '*' --include '{pattern}'"
        )
    };
    Some(format!(
        "ferry takes {src} as it is, a name with no wildcards; {how}{after}"
    ))
}

/// `mb`, with object lock and with versioning turned on (`made_with`) as asked.
async fn mb(
    global: &Global,
    bucket: &str,
    made_with: (bool, bool),
    quiet: bool,
) -> Result<(), CliError> {
    let (object_lock, versioning) = made_with;
    let url = parse_s3_url(bucket)?;
    if !url.key.is_empty() {
        return Err(bad_input(format!(
            "{bucket:?} names a key; mb takes s3://bucket"
        )));
    }
    let req = CreateBucketRequest {
        bucket: url.bucket.clone(),
        object_lock,
    };
    let manager = plain_manager(global).await?;
    manager
        .request(&format!("making the bucket {bucket}"), |c| {
            c.create_bucket(&req)
        })
        .await
        .map_err(|e| engine_error(&e, false, None))?;
    if !quiet {
        outln!("make_bucket: s3://{}", url.bucket);
    }
    // Object lock turned versioning on already.
    if versioning && !object_lock {
        let what = format!("turning versioning on for {bucket}, made just now");
        let terms = ferry_s3::RequestOptions::default();
        manager
            .request(&what, |c| {
                c.put_bucket_versioning(&url.bucket, true, &terms)
            })
            .await
            .map_err(|e| {
                engine_error(&e, false, None).noted(Some(format!(
                    "the bucket was made, without versioning: `ferry versioning {bucket} \
                     enable` turns it on"
                )))
            })?;
    }
    Ok(())
}

async fn presign(global: &Global, args: PresignArgs) -> Result<(), CliError> {
    let url = parse_object_url(&args.target, "presign")?;
    let method = match args.method.to_ascii_uppercase().as_str() {
        "GET" => http::Method::GET,
        "PUT" => http::Method::PUT,
        other => return Err(bad_input(format!("--method {other:?}: use GET or PUT"))),
    };
    let (client, origins) = client_and_origins(global, None).await?;
    if !origins.region_configured() {
        // No region is configured (the default, or the EC2 instance's), and a URL signed for
        // another than the bucket's is refused (the aws cli's is, for a bucket elsewhere).
        // Ask the bucket: a HEAD of the object, whose refusal, were the bucket elsewhere,
        // names its region, which the client then signs for. Any other answer (the object not
        // there yet, no permission, no answer within 5 s) leaves the region as it is.
        let probe = GetObjectRequest {
            bucket: url.bucket.clone(),
            key: url.key.clone(),
            ..Default::default()
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), client.head_object(&probe)).await;
    }
    let signed = client
        .presign(
            method,
            &url.bucket,
            &url.key,
            Duration::from_secs(args.expires_in),
        )
        .await?;
    outln!("{}", signed.url);
    if signed.credentials_expire_first {
        let left = signed
            .valid_until
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        tracing::warn!(
            "the URL works until {} (in {}), when the temporary credentials that signed it \
             expire, not for the {} seconds asked; sign with long-term keys (or a longer \
             session) for a URL that lasts",
            crate::report::rfc3339(signed.valid_until),
            crate::report::span(left),
            args.expires_in
        );
    } else if signed.expiry_unknown {
        tracing::warn!(
            "the URL was signed with temporary credentials (a session token) whose expiry is \
             not known here: it stops working when they expire, which may come before the {} \
             seconds asked; sign with long-term keys for a URL that lasts",
            args.expires_in
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::wildcard_note;

    #[test]
    fn a_wildcard_note_names_the_folder_above_the_first_wildcard_and_the_rest_as_the_pattern() {
        let note = |src| {
            wildcard_note("cp", src, "DST").map(|n| n.rsplit_once(": ").unwrap().1.to_string())
        };
        assert_eq!(
            note("s3://b/logs/2026-*/x?.gz").as_deref(),
            Some("ferry cp -r s3://b/logs/ DST --exclude '*' --include '2026-*/x?.gz'")
        );
        assert_eq!(note("s3://b/*").as_deref(), Some("ferry cp -r s3://b/ DST"));
        assert_eq!(
            note("*.iso").as_deref(),
            Some("ferry cp -r . DST --exclude '*' --include '*.iso'")
        );
        assert_eq!(note("s3://b/plain/key.bin"), None);
        assert_eq!(
            wildcard_note("mv", "s3://b/*", "DST").unwrap(),
            "ferry takes s3://b/* as it is, a name with no wildcards; to move everything under \
             s3://b/: ferry mv -r s3://b/ DST"
        );
        assert_eq!(note("s3://b/Film [1080p].mkv"), None);
        assert_eq!(
            wildcard_note("rm", "s3://b/p/*.txt", "").unwrap(),
            "ferry takes s3://b/p/*.txt as it is, a name with no wildcards; to pick by pattern, \
             delete what is under it and filter: ferry rm -r s3://b/p/ --exclude '*' --include \
             '*.txt' (--dry-run first shows what would go)"
        );
        assert_eq!(
            wildcard_note("ls", "s3://b/p/2026-*", "").unwrap(),
            "ferry takes s3://b/p/2026-* as it is, a name with no wildcards; to list what starts \
             with s3://b/p/2026-: ferry ls s3://b/p/2026- (-r for every key)"
        );
        assert!(
            wildcard_note("ls", "s3://b/p/*.gz", "")
                .unwrap()
                .ends_with(": ferry ls -r s3://b/p/ --exclude '*' --include '*.gz'")
        );
        assert!(
            wildcard_note("stat", "s3://b/p/x?", "")
                .unwrap()
                .ends_with("ferry ls -r s3://b/p/ --exclude '*' --include 'x?'")
        );
    }
}
