//! The `seerstore` binary against moto (S3) when the test servers are up
//! (`scripts/servers.sh start`); skipped with a message otherwise, as the
//! other server tests are. Credentials come from the environment, as
//! object_store reads them, and never appear in any output.
#![cfg(all(feature = "cli", feature = "conformance"))]

mod cli_common;
mod common_servers;

use cli_common::{data, seerstore_env, Run};
use common_servers::{unique_prefix, var};

struct Moto {
    base: String,
    query: String,
    env: Vec<(&'static str, String)>,
    secret: String,
}

fn moto() -> Option<Moto> {
    let endpoint = var("moto", "MOTO_ENDPOINT")?;
    let bucket = var("moto", "MOTO_BUCKET")?;
    let key_id = var("moto", "MOTO_ACCESS_KEY_ID")?;
    let secret = var("moto", "MOTO_SECRET_ACCESS_KEY")?;
    let region = var("moto", "MOTO_REGION")?;
    Some(Moto {
        base: format!("s3://{bucket}/{}", unique_prefix("cli")),
        query: format!("?endpoint={endpoint}&allow_http=true&max_retries=1"),
        env: vec![
            ("AWS_ACCESS_KEY_ID", key_id),
            ("AWS_SECRET_ACCESS_KEY", secret.clone()),
            ("AWS_REGION", region),
        ],
        secret,
    })
}

impl Moto {
    fn url(&self, key: &str) -> String {
        if key.is_empty() {
            format!("{}{}", self.base, self.query)
        } else {
            format!("{}/{key}{}", self.base, self.query)
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let run = seerstore_env(args, stdin, &env);
        assert!(!run.stderr.contains(&self.secret), "{run:?}");
        assert!(
            !String::from_utf8_lossy(&run.stdout).contains(&self.secret),
            "{run:?}"
        );
        run
    }
}

#[test]
fn object_commands_against_moto() {
    let Some(m) = moto() else { return };
    let big = data(9 * 1024 * 1024 + 5); // a multipart upload through writer()
    m.run(&["put", &m.url("L0/1.sst")], Some(&big)).ok();
    m.run(&["put", &m.url("L0/2.sst")], Some(b"0123456789"))
        .ok();

    let cat = m.run(&["cat", &m.url("L0/1.sst")], None);
    assert_eq!(cat.code, 0, "{cat:?}");
    assert!(cat.stdout == big, "cat returned other bytes");
    assert_eq!(
        m.run(&["cat", "--range", "3..6", &m.url("L0/2.sst")], None)
            .ok(),
        "345"
    );
    m.run(&["cat", "--range", "3..60", &m.url("L0/2.sst")], None)
        .fails(2, "invalid range 3..60 (object size 10)");

    assert_eq!(
        m.run(&["ls", &m.url("")], None).ok(),
        "L0/1.sst\nL0/2.sst\n"
    );
    let long = m.run(&["ls", "-l", &m.url("L0")], None).ok();
    assert!(
        long.starts_with(&format!("1.sst\t{}\t", big.len())),
        "{long}"
    );

    let stat: serde_json::Value =
        serde_json::from_str(&m.run(&["stat", "--json", &m.url("L0/2.sst")], None).ok())
            .expect("json");
    assert_eq!(stat["size"], 10);
    assert!(stat["version"].is_string());

    m.run(&["rm", &m.url("L0/1.sst")], None).ok();
    m.run(&["rm", &m.url("L0/2.sst")], None).ok();
    m.run(&["cat", &m.url("L0/1.sst")], None)
        .fails(3, "not found");
    assert_eq!(m.run(&["ls", &m.url("")], None).ok(), "");
}

#[test]
fn probe_against_moto_finds_conditional_writes() {
    let Some(m) = moto() else { return };
    let json: serde_json::Value =
        serde_json::from_str(&m.run(&["probe", "--json", &m.url("")], None).ok()).expect("json");
    // S3 has no copy conditional on a version; everything else holds
    // (copies refuse an existing key by multipart copy, as `open` sets).
    assert_eq!(
        json["missing"],
        serde_json::json!(["copy_update"]),
        "{json}"
    );
    assert_eq!(json["copy_create"], true, "{json}");
    assert_eq!(json["appends"], false, "{json}");
}
