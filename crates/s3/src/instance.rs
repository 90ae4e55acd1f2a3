//! The EC2 instance ferry may run on: whether this machine is one, and (with the `aws-config`
//! feature) its region, read from the instance metadata service (IMDSv2), as the AWS CLI v2
//! and the SDKs read it when no region is configured.
//!
//! Asked only when it can matter and costs little: no region configured, requests going to
//! AWS (a custom endpoint names its own server, whose region is its own business), IMDS not
//! disabled (`AWS_EC2_METADATA_DISABLED=true`), and the machine being an instance: its
//! firmware says so, or `AWS_EC2_METADATA_SERVICE_ENDPOINT` names a metadata service. A
//! laptop with no region configured thus pays no 1-second wait for an answer that never
//! comes; an instance asks once, one attempt, bounded at 1 s to connect and 1 s to answer.

use std::path::Path;

use crate::profile::Env;

/// How the metadata service is named in messages and origins, before its endpoint.
pub(crate) const NAME: &str = "instance metadata";

/// The metadata service as messages name it: `instance metadata (IMDSv2 at URL)`, the URL
/// being `AWS_EC2_METADATA_SERVICE_ENDPOINT` or the link-local default.
pub(crate) fn described(env: &Env) -> String {
    let endpoint = env
        .var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .unwrap_or_else(|| "http://169.254.169.254".into());
    format!("{NAME} (IMDSv2 at {endpoint})")
}

/// Whether `AWS_EC2_METADATA_DISABLED=true` turns the metadata service off.
pub(crate) fn disabled(env: &Env) -> bool {
    env.var("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Whether IMDS may be asked for the region: not disabled, and this machine an EC2 instance
/// or a metadata endpoint named.
pub(crate) fn may_ask(env: &Env) -> bool {
    !disabled(env)
        && (env.var("AWS_EC2_METADATA_SERVICE_ENDPOINT").is_some() || is_ec2(Path::new("/sys")))
}

/// Whether the firmware under `sys` (the sysfs root) names EC2, as cloud-init tells it: the
/// DMI vendor of a Nitro instance, or the BIOS version or hypervisor UUID (`ec2…`) of a Xen
/// one.
fn is_ec2(sys: &Path) -> bool {
    let read = |p: &str| std::fs::read_to_string(sys.join(p)).unwrap_or_default();
    ["sys_vendor", "bios_vendor"]
        .iter()
        .any(|f| read(&format!("devices/virtual/dmi/id/{f}")).trim() == "Amazon EC2")
        || read("devices/virtual/dmi/id/bios_version")
            .to_ascii_lowercase()
            .contains("amazon")
        || read("hypervisor/uuid")
            .to_ascii_lowercase()
            .starts_with("ec2")
}

/// The instance's region from IMDSv2 (`/latest/meta-data/placement/region`), or `None` when
/// it gives none in time. The request goes through ferry's HTTP stack (never a proxy: IMDS is
/// link-local), at `AWS_EC2_METADATA_SERVICE_ENDPOINT` when set.
#[cfg(feature = "aws-config")]
pub(crate) async fn region(settings: crate::credentials::ChainSettings) -> Option<String> {
    use std::time::Duration;

    use aws_config::imds;
    use aws_config::provider_config::ProviderConfig;
    use aws_smithy_async::rt::sleep::TokioSleep;

    let config = ProviderConfig::empty()
        .with_http_client(crate::credentials::ReqwestHttpClient::new(settings))
        .with_sleep_impl(TokioSleep::new());
    let client = imds::Client::builder()
        .configure(&config)
        .max_attempts(1)
        .connect_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(1))
        .build();
    imds::region::ImdsRegionProvider::builder()
        .configure(&config)
        .imds_client(client)
        .build()
        .region()
        .await
        .map(|r| r.to_string())
}

/// Without aws-config, no IMDS client: the region stays the default.
#[cfg(not(feature = "aws-config"))]
pub(crate) async fn region(_settings: crate::credentials::ChainSettings) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sys(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn an_instance_is_told_by_its_firmware() {
        let nitro = sys(&[("devices/virtual/dmi/id/sys_vendor", "Amazon EC2\n")]);
        let xen = sys(&[("hypervisor/uuid", "ec2e1916-9099-7caf-fd21-012345abcdef\n")]);
        let xen_bios = sys(&[("devices/virtual/dmi/id/bios_version", "4.11.amazon\n")]);
        for dir in [&nitro, &xen, &xen_bios] {
            assert!(is_ec2(dir.path()));
        }
        let laptop = sys(&[
            ("devices/virtual/dmi/id/sys_vendor", "LENOVO\n"),
            ("devices/virtual/dmi/id/bios_version", "N2HET71W (1.54 )\n"),
        ]);
        let bare = sys(&[]);
        for dir in [&laptop, &bare] {
            assert!(!is_ec2(dir.path()));
        }
    }

    #[test]
    fn a_named_endpoint_is_asked_unless_disabled() {
        let env = |pairs: &[(&str, &str)]| {
            Env::from_map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let named = ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1");
        assert!(may_ask(&env(&[named])));
        assert!(!may_ask(&env(&[
            named,
            ("AWS_EC2_METADATA_DISABLED", "true")
        ])));
    }
}
