//! Scale-out: `ferry plan` (create the upload or copy, write the plan), one worker's `ferry cp
//! FILE|s3://… s3://… --plan PLAN --shard I/N`, and `ferry finish PLAN`; the engine does the work,
//! this turns flags into its requests and its outcomes into lines and exit codes.

use ferry_engine::{FinishOutcome, Handle, ObjectSource, PlanUpload, WorkOutcome};

use crate::args::{BudgetFlags, FinishArgs, Global, PlanArgs};
use crate::client::{client_for, manager, parse_s3_url};
use crate::exit::{CliError, bad_input, engine_error};
use crate::options::{
    manager_config, object_content_flags, object_options, refuse_flags, size_flag,
};
use crate::output::Output;
use crate::output::{errln, outln};
use crate::report::{json_line, uploaded};

/// `ferry plan FILE s3://bucket/key --shards N`.
pub(crate) async fn plan(global: &Global, a: PlanArgs) -> Result<(), CliError> {
    let dst = parse_s3_url(&a.dst)?;
    ferry_s3::validate_key(&dst.key).map_err(bad_input)?;
    let at = a.plan_at.as_deref().map(parse_s3_url).transpose()?;
    if a.object.sse_c_key.is_some() {
        return Err(bad_input(
            "--sse-c-key: every worker's part would need the key, and a plan holds no secrets; \
             plan with --sse aws:kms or AES256, or send the file with one `ferry cp`",
        ));
    }
    let src = crate::request::arg_text(&a.src)?;
    let copy = src.starts_with("s3://");
    if copy {
        refuse_flags(
            &object_content_flags(&a.object),
            "for a plan of a file; a planned copy keeps its source's",
        )?;
    }
    let source_path = (!copy).then_some(a.src.as_path());
    let options = object_options(&a.object, &a.bucket, source_path)?;
    let base = if copy {
        let from = parse_s3_url(&src)?;
        ferry_s3::validate_key(&from.key).map_err(bad_input)?;
        PlanUpload::copy(
            ObjectSource::new(from.bucket, from.key),
            &dst.bucket,
            &dst.key,
            a.shards,
        )
    } else {
        let source = std::fs::canonicalize(&a.src)
            .map_err(|e| bad_input(format!("cannot read source {src}: {e}")))?;
        PlanUpload::new(source, &dst.bucket, &dst.key, a.shards)
    };
    let request = PlanUpload {
        options,
        part_size: size_flag("--part-size", &a.part_size)?,
        plan_bucket: at.as_ref().map(|u| u.bucket.clone()),
        plan_key: at.map(|u| u.key),
        ..base
    };
    let config = manager_config(&BudgetFlags::default(), 32 << 20)?;
    let manager = manager(client_for(global, None).await?, config, None)?;
    let output = Output::new(&a.out, false, global.verbose > 0);
    let (result, interrupted) = output.run(manager.plan_upload(request)).await;
    let plan = result.map_err(|e| engine_error(&e, interrupted, None))?;
    if output.json {
        output.emit_json(&json_line(
            "plan",
            serde_json::to_value(&plan).unwrap_or_default(),
        ));
    } else {
        outln!("{}", plan.url());
        errln!(
            "plan: {} ({} bytes) to s3://{}/{} in {} parts of {} bytes, {} workers; upload {}",
            plan.source.display(),
            plan.size,
            plan.bucket,
            plan.key,
            plan.parts,
            plan.part_size,
            plan.shards,
            plan.upload_id
        );
    }
    Ok(())
}

/// One worker of a plan, run by `ferry cp … --plan PLAN --shard I/N`.
pub(crate) async fn worker(output: Output, handle: Handle<WorkOutcome>) -> Result<(), CliError> {
    let (result, interrupted) = output.run(handle).await;
    let o = result.map_err(|e| {
        // Again helps only where the failure may pass: a plan or a file that does not match
        // fails the same way.
        let again = (interrupted || e.is_transient()).then(|| {
            "run the same command again: parts already on the server are not sent again".into()
        });
        engine_error(&e, interrupted, again)
    })?;
    if output.json {
        output.emit_json(&json_line(
            "worker",
            serde_json::json!({
                "parts": o.parts, "sent": o.sent, "kept": o.kept, "bytes": o.bytes,
                "record": o.record,
            }),
        ));
    } else {
        output.say(&format!(
            "worker: {} parts: {} sent ({} bytes), {} already on the server; recorded in {}",
            o.parts, o.sent, o.bytes, o.kept, o.record
        ));
    }
    Ok(())
}

/// `ferry finish PLAN`.
pub(crate) async fn finish(global: &Global, a: FinishArgs) -> Result<(), CliError> {
    let at = parse_s3_url(&a.plan)?;
    let request = a.bucket.request(&None)?;
    let config = manager_config(&BudgetFlags::default(), 32 << 20)?;
    let manager = manager(client_for(global, None).await?, config, None)?;
    let output = Output::new(&a.out, false, global.verbose > 0);
    let (result, interrupted) = output
        .run(manager.finish(&at.bucket, &at.key, &request))
        .await;
    let FinishOutcome { upload, plan, .. } =
        result.map_err(|e| engine_error(&e, interrupted, None))?;
    if !output.json {
        output.say(&uploaded("finish", &plan, &upload));
    }
    Ok(())
}
