//! moto in IAM mode: a second moto server whose S3 checks each request's signature and the
//! signer's IAM policy, for tests of least privilege. Users are made with boto3 by an admin
//! whose policy allows everything; once the admin exists, moto enforces authorization for
//! every request (its `/moto-api/reset-auth` switch).

use std::sync::OnceLock;

use anyhow::{Context, Result};

use crate::{TestServer, boto3};

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
    let open = crate::start_moto().context("starting moto")?;
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
