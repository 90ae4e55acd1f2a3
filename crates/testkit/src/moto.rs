//! moto: the shared server (no authorization: for what no other local server keeps), and a
//! second one in IAM mode whose S3 checks each request's signature and the signer's IAM
//! policy, for tests of least privilege. Users are made with boto3 by an admin
//! whose policy allows everything; once the admin exists, moto enforces authorization for
//! every request (its `/moto-api/reset-auth` switch).

use std::process::{Child, ChildStdin};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{
    ACCESS_KEY, REGION, SECRET_KEY, TestServer, boto3, free_ports, spawn_watched, tail, tools_bin,
};

/// moto with IAM enforced: `admin` may do anything; [`MotoIam::user`] makes users who may do
/// only what their policy says.
#[derive(Debug)]
pub struct MotoIam {
    /// The server, with the admin's keys.
    pub admin: TestServer,
}

/// The shared moto-in-IAM-mode server of this process, started on first use.
pub fn moto_iam() -> &'static MotoIam {
    static SERVER: OnceLock<MotoIam> = OnceLock::new();
    SERVER.get_or_init(|| {
        start().unwrap_or_else(|e| panic!("cannot start moto in IAM mode for the tests: {e:#}"))
    })
}

/// Makes an IAM user with an inline policy and an access key; prints the key as JSON.
const MAKE_USER: &str = r#"
iam = boto3.client('iam', endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                   aws_secret_access_key=sys.argv[3], region_name='us-east-1')
name, policy = sys.argv[4], sys.argv[5]
iam.create_user(UserName=name)
iam.put_user_policy(UserName=name, PolicyName='p', PolicyDocument=policy)
k = iam.create_access_key(UserName=name)['AccessKey']
if len(sys.argv) > 6:
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(sys.argv[1] + '/moto-api/reset-auth', data=b'0', method='POST', headers={'Content-Type': 'text/plain'})).read()
print(json.dumps({'id': k['AccessKeyId'], 'secret': k['SecretAccessKey']}))
"#;

fn start() -> Result<MotoIam> {
    let open = start_moto().context("starting moto")?;
    let everything = policy(&["*"]);
    let admin = make(&open, "ferry-admin", &everything, true)?;
    Ok(MotoIam { admin })
}

/// An IAM policy document that allows `actions` on every resource.
fn policy(actions: &[&str]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    })
    .to_string()
}

fn make(via: &TestServer, name: &str, policy: &str, enforce: bool) -> Result<TestServer> {
    let mut args = vec![
        via.endpoint.as_str(),
        via.access_key.as_str(),
        via.secret_key.as_str(),
        name,
        policy,
    ];
    if enforce {
        args.push("enforce");
    }
    let key = boto3(via, MAKE_USER, &args)?;
    let field = |k: &str| {
        key[k]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("moto's access key has no {k}: {key}"))
    };
    Ok(TestServer {
        access_key: field("id")?,
        secret_key: field("secret")?,
        ..via.clone()
    })
}

impl MotoIam {
    /// A new user (named `name`, unique per test) allowed exactly `actions` on every
    /// resource: the server as that user sees it.
    pub fn user(&self, name: &str, actions: &[&str]) -> Result<TestServer> {
        make(&self.admin, name, &policy(actions), false)
    }
}

/// The shared moto server of this process (started on first use, stopped when the process
/// ends): for what no other local server checks (ACL grants read back, SSE-KMS and object
/// lock headers stored). Never evidence of integrity: it accepts wrong checksums.
pub fn moto() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        start_moto().unwrap_or_else(|e| panic!("cannot start moto for the tests: {e:#}"))
    })
}

fn start_moto() -> Result<TestServer> {
    let program = tools_bin()?.join("moto_server");
    let dir = tempfile::Builder::new()
        .prefix("ferry-moto-")
        .tempdir()?
        .keep();
    let port = free_ports(1)?[0];
    let log = dir.join("moto.log");
    let args = vec![
        "-H".to_string(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
    ];
    let mut watcher = spawn_watched(&program, &args, &dir, &log)?;
    let pipe = watcher.stdin.take();
    let server = TestServer {
        endpoint: format!("http://127.0.0.1:{port}"),
        access_key: ACCESS_KEY.into(),
        secret_key: SECRET_KEY.into(),
        region: REGION.into(),
    };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Some(status) = watcher.try_wait()? {
            bail!("moto exited ({status}); its log:\n{}", tail(&log));
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            static KEEP: Mutex<Vec<(Child, Option<ChildStdin>)>> = Mutex::new(Vec::new());
            KEEP.lock().unwrap().push((watcher, pipe));
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("moto did not listen within 60 s; its log:\n{}", tail(&log))
}
