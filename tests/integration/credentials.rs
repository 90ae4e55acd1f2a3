//! Credentials everywhere AWS runs. Each source is proven by a real upload to a server (s3s-fs)
//! that accepts only the key pair that source vended, read back by boto3: IMDSv2, the container
//! endpoint, a web identity token (IRSA), an assume-role profile, SSO (an `sso-session` and a
//! legacy start URL), an `aws login` console session (its cached keys, and their refresh),
//! `credential_process`. Each has a refusal whose error names the source. Nothing leaves 127.0.0.1:
//! the stubs stand in for IMDS, the container endpoint, STS, the SSO portal and AWS Sign-In. Also
//! `ferry config`, no secret at `-vv`, how fast a machine without credentials fails, and an
//! instance's region taken from IMDS. Heavy tier: credentials that expire every minute, refreshed
//! through a 150-second upload.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant, SystemTime};

use ferry_testkit::S3sFs;
use ferry_testkit::creds::{CredentialStubs, KeyRing, StubConfig, Vended};

use crate::{data, expect_exit, stdout, text};

const REGION: &str = "us-east-1";

/// A server that accepts only `keys`, a bucket on it, and a home folder with a file to send.
struct Setup {
    server: S3sFs,
    ring: KeyRing,
    home: tempfile::TempDir,
    file: PathBuf,
    body: Vec<u8>,
}

/// A server that accepts `keys`, and also the keys listed in `ring_file` (below the home
/// folder) when given.
fn setup(keys: &Vended, ring_file: Option<&str>) -> Setup {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    let mut ring = KeyRing::with(&keys.access_key, &keys.secret_key);
    if let Some(f) = ring_file {
        ring = ring.reading(home.path().join(f));
    }
    let server =
        S3sFs::start_with_keys(ring.clone(), (&keys.access_key, &keys.secret_key)).unwrap();
    std::fs::create_dir_all(server.root.path().join("creds")).unwrap();
    let file = home.path().join("f.bin");
    let body = data(300 * 1024, 42);
    std::fs::write(&file, &body).unwrap();
    Setup {
        server,
        ring,
        home,
        file,
        body,
    }
}

impl Setup {
    fn for_keys(keys: &Vended) -> Self {
        setup(keys, None)
    }

    /// `ferry ARGS` with no keys in its environment: only `vars` say where credentials are.
    fn ferry(&self, vars: &[(&str, &str)], args: &[&str]) -> Output {
        let mut base: Vec<(String, String)> = vec![
            (
                "AWS_ENDPOINT_URL".into(),
                self.server.server.endpoint.clone(),
            ),
            ("AWS_REGION".into(), REGION.into()),
        ];
        base.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut c = crate::ferry_command(base, self.home.path());
        c.args(args);
        c.output().unwrap()
    }

    fn upload(&self, vars: &[(&str, &str)]) -> Output {
        self.ferry(
            vars,
            &[
                "cp",
                self.file.to_str().unwrap(),
                "s3://creds/k",
                "--no-progress",
            ],
        )
    }

    /// The uploaded object, read back by boto3 with the keys the server accepts.
    fn assert_uploaded(&self, o: &Output) {
        assert!(o.status.success(), "{}", text(o));
        let v = ferry_testkit::boto3(
            &self.server.server,
            "import hashlib\nb = s3.get_object(Bucket='creds', Key='k')['Body'].read()\nprint(json.dumps(hashlib.sha256(b).hexdigest()))",
            &[],
        )
        .unwrap();
        assert_eq!(v.as_str().unwrap(), crate::sha256_hex(&self.body));
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.home.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> String {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

/// Asserts a refusal (exit 2) that says `needle`, and shows it (the note quotes these).
fn refused(o: &Output, needle: &str) {
    expect_exit(o, 2, needle);
    eprintln!("{}", String::from_utf8_lossy(&o.stderr).trim());
}

fn stubs(config: StubConfig) -> CredentialStubs {
    CredentialStubs::start(config).unwrap()
}

/// The stubs' endpoints for STS and SSO (the SDK's own clients).
fn sts_sso(stubs: &CredentialStubs) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_STS", stubs.endpoint.clone()),
        ("AWS_ENDPOINT_URL_SSO", stubs.endpoint.clone()),
    ]
}

fn refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, s)| (*k, s.as_str())).collect()
}

#[test]
fn instance_metadata_v2_vends_the_keys_and_a_missing_role_is_named() {
    let config = StubConfig::default();
    let s = Setup::for_keys(&config.imds);
    let stub = stubs(config.clone());
    let imds = [
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", stub.endpoint.as_str()),
    ];
    s.assert_uploaded(&s.upload(&imds));
    let calls = stub.calls();
    assert!(calls.contains(&"IMDS token".to_string()), "{calls:?}");
    assert!(calls.contains(&"IMDS credentials".to_string()), "{calls:?}");
    assert!(
        !calls.iter().any(|c| c.starts_with("refused")),
        "every IMDS request carried the session token: {calls:?}"
    );
    // An instance without a role: nothing found, and the list says what IMDS answered.
    let no_role = stubs(StubConfig {
        imds_role: None,
        ..StubConfig::default()
    });
    let o = s.upload(&[
        ("AWS_EC2_METADATA_DISABLED", "false"),
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            no_role.endpoint.as_str(),
        ),
    ]);
    refused(&o, "no credentials found");
    expect_exit(&o, 2, "instance metadata (IMDSv2 at");
}

#[test]
fn an_instance_with_no_region_configured_signs_for_its_own_region() {
    let stub = stubs(StubConfig::default());
    let home = tempfile::tempdir().unwrap();
    // Any request bound for AWS meets a closed loopback port through the proxy: nothing
    // leaves 127.0.0.1 (IMDS, link-local or loopback, never goes through a proxy).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let run = |vars: &[(&str, &str)], args: &[&str]| {
        let mut base: Vec<(String, String)> = [
            ("AWS_EC2_METADATA_DISABLED", "false"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", stub.endpoint.as_str()),
            ("HTTPS_PROXY", proxy.as_str()),
            ("HTTP_PROXY", proxy.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        base.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let o = crate::ferry_command(base, home.path())
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let asked = || {
        stub.calls()
            .iter()
            .filter(|c| c.as_str() == "IMDS region")
            .count()
    };
    let out = run(&[], &["config"]);
    for want in [
        "region       eu-west-3",
        &format!("instance metadata (IMDSv2 at {})", stub.endpoint),
        "endpoint     https://s3.eu-west-3.amazonaws.com",
        "****************STUB",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
    assert_eq!(asked(), 1);
    // A presigned URL is signed for the instance's region when the bucket names no other
    // (its HEAD, sent first as with no region at all, meets the closed proxy here).
    let url = run(&[], &["presign", "s3://ferry-bucket/a/b.bin"]);
    assert!(url.contains("s3.eu-west-3.amazonaws.com"), "{url}");
    assert!(url.contains("%2Feu-west-3%2Fs3%2Faws4_request"), "{url}");
    assert_eq!(asked(), 2);
    // A region configured, or an endpoint of its own: the instance is not asked.
    let out = run(&[("AWS_REGION", "ap-south-1")], &["config"]);
    assert!(out.contains("region       ap-south-1"), "{out}");
    let out = run(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")], &["config"]);
    assert!(out.contains("region       us-east-1"), "{out}");
    assert_eq!(asked(), 2, "{:?}", stub.calls());
    // FIPS (as a FedRAMP host sets it): AWS's FIPS endpoint of the instance's region; with an
    // endpoint of its own as well, refused as the SDKs refuse it.
    let out = run(&[("AWS_USE_FIPS_ENDPOINT", "true")], &["config"]);
    let want = "endpoint     https://s3-fips.eu-west-3.amazonaws.com";
    assert!(out.contains(want), "{out}");
    assert!(out.contains("FIPS (AWS_USE_FIPS_ENDPOINT)"), "{out}");
    let mut both = crate::ferry_command(
        vec![
            ("AWS_USE_FIPS_ENDPOINT".into(), "true".into()),
            ("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9".into()),
            ("AWS_ACCESS_KEY_ID".into(), "AKIAKEYS".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "keys-secret".into()),
        ],
        home.path(),
    );
    let o = both.args(["cp", "-", "s3://bucket/k"]).output().unwrap();
    expect_exit(&o, 2, "AWS_ENDPOINT_URL names the endpoint, and FIPS");
    // An instance whose metadata service is silent: the default, within the 1-second bound.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = format!("http://{}", silent.local_addr().unwrap());
    let started = Instant::now();
    let out = run(
        &[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", silent.as_str()),
            ("AWS_ACCESS_KEY_ID", "AKIAKEYS"),
            ("AWS_SECRET_ACCESS_KEY", "keys-secret"),
        ],
        &["config"],
    );
    assert!(out.contains("region       us-east-1"), "{out}");
    let said = format!("default (instance metadata (IMDSv2 at {silent}) gave no region)");
    assert!(out.contains(&said), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_container_endpoint_vends_the_keys_only_with_its_token() {
    let config = StubConfig::default();
    let s = Setup::for_keys(&config.container);
    let stub = stubs(config.clone());
    let url = format!("{}/container/credentials", stub.endpoint);
    let token = s.write("container-token", &config.container_token);
    let vars = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token.as_str()),
    ];
    s.assert_uploaded(&s.upload(&vars));
    assert!(stub.calls().contains(&"container credentials".to_string()));
    let wrong = s.write("wrong-token", "not-the-token");
    let o = s.upload(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", wrong.as_str()),
    ]);
    refused(&o, "container endpoint");
    assert!(!text(&o).contains("not-the-token"), "{}", text(&o));
    // A token file not there: the message names it.
    let missing = format!("{token}.not-there");
    let o = s.upload(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", missing.as_str()),
    ]);
    expect_exit(&o, 2, &format!("container endpoint (token file {missing})"));
}

#[test]
fn a_web_identity_token_is_exchanged_with_sts_and_a_wrong_one_is_named() {
    let config = StubConfig::default();
    let s = Setup::for_keys(&config.web_identity);
    let stub = stubs(config.clone());
    let token = s.write("token", &config.web_identity_token);
    let mut vars = sts_sso(&stub);
    vars.push(("AWS_WEB_IDENTITY_TOKEN_FILE", token.clone()));
    vars.push(("AWS_ROLE_ARN", config.role_arn.clone()));
    s.assert_uploaded(&s.upload(&refs(&vars)));
    assert!(
        stub.calls()
            .contains(&"STS AssumeRoleWithWebIdentity".to_string())
    );
    let wrong = s.write("wrong", "forged-jwt");
    vars.retain(|(k, _)| *k != "AWS_WEB_IDENTITY_TOKEN_FILE");
    vars.push(("AWS_WEB_IDENTITY_TOKEN_FILE", wrong));
    let o = s.upload(&refs(&vars));
    refused(&o, "web identity");
    expect_exit(&o, 2, "InvalidIdentityToken");
    assert!(!text(&o).contains("forged-jwt"), "{}", text(&o));
    // A token file not there (not yet mounted, or gone): the message names it.
    let missing = format!("{token}.not-there");
    vars.retain(|(k, _)| *k != "AWS_WEB_IDENTITY_TOKEN_FILE");
    vars.push(("AWS_WEB_IDENTITY_TOKEN_FILE", missing.clone()));
    let o = s.upload(&refs(&vars));
    expect_exit(&o, 2, &format!("token file {missing})"));
}

/// A config with an assume-role profile `dev` whose source is `base`'s static keys, `long` as
/// `dev` with 12-hour sessions (`duration_seconds`), `bad` with a `duration_seconds` that is no
/// number, and a cycle `loop1` -> `loop2` -> `loop1`.
fn assume_role_files(s: &Setup, config: &StubConfig) -> Vec<(&'static str, String)> {
    let cfg = s.write(
        ".aws/config",
        &format!(
            "[profile dev]\nrole_arn = {}\nsource_profile = base\nregion = {REGION}\n\
             [profile long]\nrole_arn = {0}\nsource_profile = base\nduration_seconds = 43200\n\
             [profile bad]\nrole_arn = {0}\nsource_profile = base\nduration_seconds = 12h\n\
             [profile loop1]\nrole_arn = {0}\nsource_profile = loop2\n\
             [profile loop2]\nrole_arn = {0}\nsource_profile = loop1\n\
             [profile wrong]\nrole_arn = arn:aws:iam::123456789012:role/other\nsource_profile = base\n",
            config.role_arn
        ),
    );
    let creds = s.write(
        ".aws/credentials",
        &format!(
            "[base]\naws_access_key_id = {}\naws_secret_access_key = base-secret\n",
            config.assume_role_source_key
        ),
    );
    vec![
        ("AWS_CONFIG_FILE", cfg),
        ("AWS_SHARED_CREDENTIALS_FILE", creds),
    ]
}

#[test]
fn an_assume_role_profile_signs_with_the_source_keys_and_cycles_are_refused() {
    let config = StubConfig::default();
    let s = Setup::for_keys(&config.assume_role);
    let stub = stubs(config.clone());
    let mut vars = sts_sso(&stub);
    vars.extend(assume_role_files(&s, &config));
    vars.push(("AWS_PROFILE", "dev".into()));
    s.assert_uploaded(&s.upload(&refs(&vars)));
    assert!(stub.calls().contains(&"STS AssumeRole".to_string()));
    // --profile names it the same way.
    vars.retain(|(k, _)| *k != "AWS_PROFILE");
    let o = s.ferry(
        &refs(&vars),
        &[
            "cp",
            s.file.to_str().unwrap(),
            "s3://creds/k2",
            "--profile",
            "dev",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = s.ferry(
        &refs(&vars),
        &[
            "cp",
            s.file.to_str().unwrap(),
            "s3://creds/k3",
            "--profile",
            "loop1",
        ],
    );
    refused(&o, "profile loop1");
    let o = s.ferry(
        &refs(&vars),
        &[
            "cp",
            s.file.to_str().unwrap(),
            "s3://creds/k4",
            "--profile",
            "wrong",
        ],
    );
    refused(&o, "AccessDenied");
    expect_exit(&o, 2, "via profile wrong");

    // duration_seconds asks STS for a session that long, as the AWS CLI does: the keys last 12
    // hours (aws-config alone would ask for the default hour), and sign an upload and a
    // presigned URL of 11 hours without a warning that they expire first.
    let as_profile = |profile: &str, args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--profile", profile]);
        s.ferry(&refs(&vars), &a)
    };
    let said = |o: &Output, needle: &str| {
        assert!(o.status.success(), "{}", text(o));
        assert!(text(o).contains(needle), "{needle:?} in {}", text(o));
    };
    said(&as_profile("long", &["config"]), "(in 11 h 59 min)");
    let sessions = stub.calls();
    assert!(
        sessions.contains(&"STS AssumeRole DurationSeconds=43200".to_string()),
        "{sessions:?}"
    );
    said(
        &as_profile("long", &["cp", s.file.to_str().unwrap(), "s3://creds/k5"]),
        "upload:",
    );
    let presign = ["presign", "s3://creds/k5", "--expires-in", "39600"];
    let o = as_profile("long", &presign);
    said(&o, "X-Amz-Expires=39600");
    assert!(o.stderr.is_empty(), "{}", text(&o));
    // Without it, the hour: the same URL is said to expire with the keys.
    said(
        &as_profile("dev", &presign),
        "when the temporary credentials",
    );
    let o = as_profile("bad", &["config"]);
    expect_exit(
        &o,
        2,
        "duration_seconds = \"12h\": give the role session's length in seconds",
    );
}

/// An SSO token in the cache where the SDK looks for it (`~/.aws/sso/cache/SHA1.json`).
fn cache_sso_token(s: &Setup, key: &str, token: &str) {
    use sha1::Digest as _;
    let name = hex::encode(sha1::Sha1::digest(key.as_bytes()));
    s.write(
        &format!(".aws/sso/cache/{name}.json"),
        &serde_json::json!({
            "startUrl": "https://ferry-test.awsapps.com/start",
            "region": REGION,
            "accessToken": token,
            "expiresAt": "2099-01-01T00:00:00Z",
        })
        .to_string(),
    );
}

#[test]
fn sso_sessions_and_legacy_profiles_get_role_credentials_and_a_stale_token_is_named() {
    let config = StubConfig::default();
    let s = Setup::for_keys(&config.sso);
    let stub = stubs(config.clone());
    let start = "https://ferry-test.awsapps.com/start";
    let cfg = s.write(
        ".aws/config",
        &format!(
            "[profile corp]\nsso_session = corp\nsso_account_id = {a}\nsso_role_name = {r}\n\
             [sso-session corp]\nsso_start_url = {start}\nsso_region = {REGION}\n\
             [profile legacy]\nsso_start_url = {start}\nsso_region = {REGION}\n\
             sso_account_id = {a}\nsso_role_name = {r}\n",
            a = config.sso_account,
            r = config.sso_role
        ),
    );
    let mut vars = sts_sso(&stub);
    vars.push(("AWS_CONFIG_FILE", cfg));
    vars.push(("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()));
    cache_sso_token(&s, "corp", &config.sso_token);
    cache_sso_token(&s, start, &config.sso_token);
    for profile in ["corp", "legacy"] {
        let o = s.ferry(
            &refs(&vars),
            &[
                "cp",
                s.file.to_str().unwrap(),
                "s3://creds/k",
                "--profile",
                profile,
            ],
        );
        s.assert_uploaded(&o);
    }
    let logged = stub
        .calls()
        .iter()
        .filter(|c| *c == "SSO GetRoleCredentials")
        .count();
    assert_eq!(logged, 2);
    cache_sso_token(&s, "corp", "a-stale-token");
    let o = s.ferry(
        &refs(&vars),
        &[
            "cp",
            s.file.to_str().unwrap(),
            "s3://creds/k",
            "--profile",
            "corp",
        ],
    );
    refused(&o, "sso-session corp via profile corp");
    assert!(!text(&o).contains("a-stale-token"), "{}", text(&o));
}

/// The session `aws login` writes in the profile (`login_session`).
const LOGIN_ARN: &str = "arn:aws:iam::123456789012:user/ferry";

/// A P-256 private key in SEC1 PEM, as `aws login` keeps for its DPoP proofs.
fn dpop_key() -> String {
    let o = std::process::Command::new("openssl")
        .args(["ecparam", "-name", "prime256v1", "-genkey", "-noout"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// An `aws login` session's token where the SDK looks for it
/// (`~/.aws/login/cache/SHA256.json`, 0600 as the AWS CLI writes it): `keys` until `expires`,
/// and `refresh` to get the next ones.
fn cache_login_token(s: &Setup, keys: &Vended, refresh: &str, expires: SystemTime, dpop: &str) {
    use sha2::Digest as _;
    let name = hex::encode(sha2::Sha256::digest(LOGIN_ARN.as_bytes()));
    let expires = time::OffsetDateTime::from(expires)
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let path = s.write(
        &format!(".aws/login/cache/{name}.json"),
        &serde_json::json!({
            "accessToken": {
                "accessKeyId": keys.access_key, "secretAccessKey": keys.secret_key,
                "sessionToken": keys.token, "accountId": "123456789012", "expiresAt": expires,
            },
            "tokenType": "aws_sigv4",
            "refreshToken": refresh,
            "clientId": "arn:aws:signin:::devtools/same-device",
            "dpopKey": dpop,
        })
        .to_string(),
    );
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn an_aws_login_session_signs_with_its_keys_refreshes_them_and_an_expired_one_is_named() {
    let config = StubConfig::default();
    let s = Setup::for_keys(&config.login);
    let stub = stubs(config.clone());
    let cfg = s.write(
        ".aws/config",
        &format!("[profile console]\nlogin_session = {LOGIN_ARN}\nregion = {REGION}\n"),
    );
    let vars = [
        ("AWS_ENDPOINT_URL_SIGNIN", stub.endpoint.as_str()),
        ("AWS_CONFIG_FILE", cfg.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_PROFILE", "console"),
    ];
    let dpop = dpop_key();
    let in_an_hour = SystemTime::now() + Duration::from_secs(3600);
    let signin = |stub: &CredentialStubs| {
        let calls = stub.calls();
        calls.iter().filter(|c| c.contains("Sign-In")).count()
    };

    // Keys good for an hour: signed with as they are, Sign-In not asked.
    cache_login_token(&s, &config.login, "unused", in_an_hour, &dpop);
    s.assert_uploaded(&s.upload(&vars));
    assert_eq!(signin(&stub), 0, "{:?}", stub.calls());
    let o = s.ferry(&vars, &["config"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for want in [
        format!("aws login session {LOGIN_ARN} via profile console"),
        format!("****************{}", &config.login.access_key[9..]),
        "(in 59 min)".into(),
    ] {
        assert!(out.contains(&want), "{want:?} in {out}");
    }

    // Keys about to expire (the server no longer takes them): refreshed with the refresh
    // token and a DPoP proof, and the next refresh token kept in the cache for `aws` and ferry.
    let old = Vended::named("LOGINOLD");
    let soon = SystemTime::now() + Duration::from_secs(60);
    cache_login_token(&s, &old, &config.login_refresh_token, soon, &dpop);
    let file = s.file.to_str().unwrap();
    let o = s.ferry(&vars, &["cp", file, "s3://creds/k", "-vv", "--no-progress"]);
    s.assert_uploaded(&o);
    let logged = text(&o);
    for secret in [
        config.login_refresh_token.as_str(),
        config.login_next_refresh_token.as_str(),
        config.login.secret_key.as_str(),
        config.login.token.as_str(),
        "PRIVATE KEY",
    ] {
        assert!(!logged.contains(secret), "{secret} logged: {logged}");
    }
    assert_eq!(
        stub.calls().last().map(String::as_str),
        Some("Sign-In CreateOAuth2Token")
    );
    let cached = std::fs::read_dir(s.path(".aws/login/cache"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let token: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cached).unwrap()).unwrap();
    assert_eq!(
        token["refreshToken"],
        config.login_next_refresh_token.as_str()
    );
    assert_eq!(
        token["accessToken"]["accessKeyId"],
        config.login.access_key.as_str()
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&cached).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{cached:?}");

    // Expired, and Sign-In refuses the refresh token: the session is named, with what to run.
    let gone = SystemTime::now() - Duration::from_secs(60);
    cache_login_token(&s, &old, "a-revoked-refresh-token", gone, &dpop);
    let o = s.upload(&vars);
    refused(
        &o,
        &format!("aws login session {LOGIN_ARN} via profile console"),
    );
    expect_exit(&o, 2, "run `aws login --profile console`");
    let out = text(&o);
    for secret in [
        "a-revoked-refresh-token",
        old.secret_key.as_str(),
        "PRIVATE KEY",
    ] {
        assert!(!out.contains(secret), "{secret} shown: {out}");
    }
}

/// A `credential_process` script: prints `keys` as the process protocol says, expiring
/// `lifetime` seconds after each run, counts its runs in `count`, and lists each key pair it
/// vends in `ring` (`AK SK EXPIRY`) for the server, which accepts a key until the expiry of
/// its last line. The access key id stays the same from run to run, as a role's principal
/// does: s3s-fs binds a multipart upload to the access key that created it (S3 binds it to
/// the principal), so new key ids would be refused the upload's later parts.
fn process_script(s: &Setup, keys: &Vended, lifetime: u64, fail: bool) -> String {
    let count = s.path("process-count");
    let ring = s.path("process-ring");
    let script = format!(
        "#!/bin/sh\n\
         {fail}\
         n=$(( $(cat {count} 2>/dev/null || echo 0) + 1 ))\necho $n > {count}\n\
         exp=$(( $(date +%s) + {lifetime} ))\n\
         echo \"{ak} {sk} $exp\" >> {ring}\n\
         printf '{{\"Version\":1,\"AccessKeyId\":\"{ak}\",\"SecretAccessKey\":\"{sk}\",\"SessionToken\":\"{tok}-%s\",\"Expiration\":\"%s\"}}' \
         $n $(date -u -d @$exp +%Y-%m-%dT%H:%M:%SZ)\n",
        fail = if fail {
            "echo 'the vault is sealed' >&2\nexit 3\n"
        } else {
            ""
        },
        count = count.display(),
        ring = ring.display(),
        ak = keys.access_key,
        sk = keys.secret_key,
        tok = keys.token,
    );
    let path = s.write("bin/creds.sh", &script);
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A home whose profile `proc` runs the script, and a server that accepts the keys the
/// script lists (and a fixed pair, for boto3 to read back with).
fn process_setup(lifetime: u64, fail: bool) -> (Setup, Vec<(&'static str, String)>) {
    let s = setup(&Vended::named("READER"), Some("process-ring"));
    let script = process_script(&s, &Vended::named("PROC"), lifetime, fail);
    // An argument the error must not show: a command line can hold a secret.
    let cfg = s.write(
        ".aws/config",
        &format!("[profile proc]\ncredential_process = {script} --secret-arg hunter2\n"),
    );
    let vars = vec![
        ("AWS_CONFIG_FILE", cfg),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ("AWS_PROFILE", "proc".into()),
    ];
    (s, vars)
}

#[test]
fn credential_process_vends_the_keys_and_its_failure_is_named_without_its_command_line() {
    let (s, vars) = process_setup(3600, false);
    s.assert_uploaded(&s.upload(&refs(&vars)));
    assert_eq!(
        std::fs::read_to_string(s.path("process-count"))
            .unwrap()
            .trim(),
        "1"
    );
    let (s, vars) = process_setup(3600, true);
    let o = s.upload(&refs(&vars));
    refused(&o, "credential_process of profile proc");
    assert!(!text(&o).contains("hunter2"), "{}", text(&o));
}

/// `AWS_PROFILE` naming a profile no file defines (a typo) is refused, as the aws cli refuses
/// it, even with keys in the environment that would sign: the profile's region and endpoint
/// would be silently left out. Nothing is sent; the right name signs.
#[test]
fn a_profile_named_by_aws_profile_that_no_file_defines_is_refused() {
    let keys = Vended::named("TYPO");
    let s = Setup::for_keys(&keys);
    let cfg = s.write(".aws/config", "[profile prod]\nregion = us-east-1\n");
    let vars = |profile: &'static str| {
        [
            ("AWS_PROFILE", profile.to_string()),
            ("AWS_CONFIG_FILE", cfg.clone()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
            ("AWS_ACCESS_KEY_ID", keys.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", keys.secret_key.clone()),
        ]
    };
    let o = s.upload(&refs(&vars("prdo")));
    refused(
        &o,
        "profile \"prdo\" (AWS_PROFILE) is not defined in /dev/null or ",
    );
    let stored = ferry_testkit::boto3(
        &s.server.server,
        "print(json.dumps(s3.list_objects_v2(Bucket='creds').get('KeyCount', 0)))",
        &[],
    )
    .unwrap();
    assert_eq!(stored, 0, "nothing is sent");
    s.assert_uploaded(&s.upload(&refs(&vars("prod"))));
}

/// A credentials file saved by Notepad: a byte order mark first, CRLF line ends. Its keys
/// sign (the profile was "not in" the file; then aws-config refused to parse it); and so they
/// do when the file is named as `~/.aws/credentials` (the `~` was taken as a folder's name).
#[test]
fn a_credentials_file_saved_on_windows_signs_with_its_keys() {
    let keys = Vended::named("WINDOWS");
    let s = Setup::for_keys(&keys);
    let creds = s.write(
        ".aws/credentials",
        &format!(
            "\u{feff}[default]\r\naws_access_key_id = {}\r\naws_secret_access_key = {}\r\n",
            keys.access_key, keys.secret_key
        ),
    );
    s.assert_uploaded(&s.upload(&[
        ("AWS_SHARED_CREDENTIALS_FILE", &creds),
        ("AWS_CONFIG_FILE", "/dev/null"),
    ]));
    // Named from the home folder with a `~` no shell expanded (a quoted export, a service's
    // environment), as the AWS CLI reads it.
    s.assert_uploaded(&s.upload(&[
        ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        ("AWS_CONFIG_FILE", "/dev/null"),
    ]));
}

/// A URL presigned with temporary keys stops working when they expire: asked to last longer,
/// `presign` still prints it, and warns until when it works; asked to last less, it says
/// nothing. The URL reads the object.
#[test]
fn a_url_presigned_with_keys_that_expire_sooner_says_until_when_it_works() {
    let (s, vars) = process_setup(1800, false);
    s.assert_uploaded(&s.upload(&refs(&vars)));
    let o = s.ferry(
        &refs(&vars),
        &["presign", "s3://creds/k", "--expires-in", "7200"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let warned = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        warned.contains("ferry: warning: the URL works until ")
            && warned.contains("when the temporary credentials that signed it expire, not for the 7200 seconds asked"),
        "{}",
        text(&o)
    );
    assert!(
        warned.contains("(in 29 min)") || warned.contains("(in 30 min)"),
        "{warned}"
    );
    let url = String::from_utf8(o.stdout).unwrap();
    let (code, body) = crate::curl(&[url.trim()]);
    assert_eq!(code, "200");
    assert_eq!(body, s.body);
    let o = s.ferry(
        &refs(&vars),
        &["presign", "s3://creds/k", "--expires-in", "600"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stderr.is_empty(), "{}", text(&o));
    // Keys in the environment: a session token with no expiry given is said to bound the URL
    // too; long-term keys are not.
    for (token, warned) in [(None, false), (Some("env-token"), true)] {
        let presign = ["presign", "s3://creds/k", "--expires-in", "7200"];
        let o = with_env_keys(&s, token, &presign);
        assert!(o.status.success(), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            err.contains("whose expiry is not known here"),
            warned,
            "{token:?}: {}",
            text(&o)
        );
    }
}

/// ferry run with keys in its environment alone (`env-secret-XYZ`), and `token` as their session
/// token, against the setup's server.
fn with_env_keys(s: &Setup, token: Option<&str>, args: &[&str]) -> Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.args(args)
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", s.home.path())
        .env("AWS_REGION", REGION)
        .env("AWS_ENDPOINT_URL", &s.server.server.endpoint)
        .env("AWS_ACCESS_KEY_ID", "AKIAENVKEY")
        .env("AWS_SECRET_ACCESS_KEY", "env-secret-XYZ");
    if let Some(t) = token {
        c.env("AWS_SESSION_TOKEN", t);
    }
    c.output().unwrap()
}

#[test]
fn ferry_config_shows_each_source_and_no_secret() {
    let config = StubConfig::default();
    let s = Setup::for_keys(&config.assume_role);
    let stub = stubs(config.clone());
    let mut vars = sts_sso(&stub);
    vars.extend(assume_role_files(&s, &config));
    vars.push(("AWS_PROFILE", "dev".into()));
    let o = s.ferry(&refs(&vars), &["config", "-vv"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    for want in [
        "profile      dev",
        "AWS_PROFILE",
        "region       us-east-1",
        "AWS_REGION",
        &format!("endpoint     {}", s.server.server.endpoint),
        "AWS_ENDPOINT_URL",
        &format!(
            "assume-role {} via profile dev, source profile base: static keys of profile base",
            config.role_arn
        ),
        "****************STUB",
        "(in 59 min)",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
    for secret in [
        config.assume_role.secret_key.as_str(),
        config.assume_role.token.as_str(),
        "base-secret",
    ] {
        assert!(!out.contains(secret), "{secret} shown: {out}");
    }
    // A flag is named as the setting's source (the library says "given by the program"),
    // and so is a profile it names that no file defines.
    let o = s.ferry(&refs(&vars), &["config", "--region", "eu-west-3"]);
    assert!(
        stdout(&o).contains("region       eu-west-3") && stdout(&o).contains(" --region"),
        "{}",
        text(&o)
    );
    let o = s.ferry(&refs(&vars), &["config", "--profile", "nope"]);
    expect_exit(&o, 2, "profile \"nope\" (--profile) is not defined in");
    // Keys in the environment: long-term, unless a session token makes them temporary (whose
    // expiry the environment does not give).
    for (token, expiry) in [
        (None, "never (long-term keys)"),
        (Some("env-token-XYZ"), "unknown (temporary keys"),
    ] {
        let o = with_env_keys(&s, token, &["config"]);
        assert!(o.status.success(), "{}", text(&o));
        let out = text(&o);
        assert!(out.contains(expiry), "{expiry:?} in {out}");
        assert!(
            !out.contains("env-secret-XYZ") && !out.contains("env-token-XYZ"),
            "{out}"
        );
    }
    // An upload at -vv logs no secret either.
    let o = s.ferry(
        &refs(&vars),
        &[
            "cp",
            s.file.to_str().unwrap(),
            "s3://creds/k",
            "-vv",
            "--no-progress",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    for secret in [
        config.assume_role.secret_key.as_str(),
        config.assume_role.token.as_str(),
        "base-secret",
    ] {
        assert!(!out.contains(secret), "{secret} logged: {out}");
    }
}

#[test]
fn no_credentials_anywhere_fails_fast_listing_every_place() {
    let s = Setup::for_keys(&Vended::named("NONE"));
    // IMDS "present" but silent: a listener that never answers (as a dropped packet).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let imds = format!("http://{}", silent.local_addr().unwrap());
    let started = Instant::now();
    let o = s.upload(&[
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str()),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ]);
    let took = started.elapsed();
    eprintln!("no credentials, IMDS silent: exit after {took:?}");
    refused(&o, "no credentials found");
    for place in [
        "environment (AWS_ACCESS_KEY_ID)",
        "web identity",
        "profile default",
        "container endpoint",
        "instance metadata",
    ] {
        expect_exit(&o, 2, place);
    }
    assert!(took < Duration::from_secs(3), "{took:?}");
    // With IMDS off, as every other test runs.
    let o = s.upload(&[]);
    expect_exit(&o, 2, "AWS_EC2_METADATA_DISABLED=true");
}

#[test]
#[ignore = "heavy tier: a 150-second upload through credentials that expire every minute"]
fn heavy_credentials_that_expire_every_minute_are_refreshed_during_a_long_upload() {
    let (s, vars) = process_setup(60, false);
    let big = s.path("big.bin");
    let body = data(150 << 20, 7);
    std::fs::write(&big, &body).unwrap();
    let started = Instant::now();
    let o = s.ferry(
        &refs(&vars),
        &[
            "cp",
            big.to_str().unwrap(),
            "s3://creds/big",
            "--bwlimit",
            "1MiB",
            "--part-size",
            "8MiB",
            "--no-progress",
        ],
    );
    let took = started.elapsed();
    assert!(o.status.success(), "{}", text(&o));
    let runs: u32 = std::fs::read_to_string(s.path("process-count"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    eprintln!("150 MiB at 1 MiB/s in {took:?}: credential_process ran {runs} times");
    assert!(took > Duration::from_secs(120), "{took:?}");
    assert!(runs >= 3, "the process ran {runs} times");
    assert_eq!(
        s.ring.expired_refusals(),
        0,
        "a request was signed with expired keys"
    );
    let v = ferry_testkit::boto3(
        &s.server.server,
        "import hashlib\nb = s3.get_object(Bucket='creds', Key='big')['Body'].read()\nprint(json.dumps(hashlib.sha256(b).hexdigest()))",
        &[],
    )
    .unwrap();
    assert_eq!(v.as_str().unwrap(), crate::sha256_hex(&body));
}
