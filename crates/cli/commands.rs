//! The commands: each parsed, checked (a transfer's flags become one request in `request`)
//! and run; the small ones (`mb`, `presign`) here.

use ferry_s3::{CreateBucketRequest, ObjectClient};

use crate::args::{Cli, Cmd, Global, PresignArgs};
use crate::client::{client, parse_object_url, parse_s3_url};
use crate::exit::{CliError, bad_input};
use crate::output::outln;

pub(crate) async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Cmd::Cp(args) => {
            let cp = crate::request::cp(&cli.global, &args)?;
            crate::run::cp(&cli.global, cp).await
        }
        Cmd::Acl(cmd) => crate::acl::run(&cli.global, cmd).await,
        Cmd::Sync(args) => crate::sync::run(&cli.global, *args).await,
        Cmd::Config => crate::client::show_config(&cli.global).await,
        Cmd::Plan(args) => crate::scale::plan(&cli.global, args).await,
        Cmd::Finish(args) => crate::scale::finish(&cli.global, args).await,
        Cmd::Mb { bucket, quiet } => mb(&cli.global, &bucket, quiet).await,
        Cmd::Presign(args) => presign(&cli.global, args).await,
        Cmd::Resume(args) => crate::run::resume(&cli.global, args).await,
        Cmd::Uploads(cmd) => crate::uploads::run(&cli.global, cmd).await,
    }
}

async fn mb(global: &Global, bucket: &str, quiet: bool) -> Result<(), CliError> {
    let url = parse_s3_url(bucket)?;
    if !url.key.is_empty() {
        return Err(bad_input(format!(
            "{bucket:?} names a key; mb takes s3://bucket"
        )));
    }
    let client = client(global).await?;
    client
        .create_bucket(&CreateBucketRequest {
            bucket: url.bucket.clone(),
        })
        .await?;
    if !quiet {
        outln!("make_bucket: s3://{}", url.bucket);
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
    let client = client(global).await?;
    let signed = client
        .presign(
            method,
            &url.bucket,
            &url.key,
            std::time::Duration::from_secs(args.expires_in),
        )
        .await?;
    outln!("{signed}");
    Ok(())
}
