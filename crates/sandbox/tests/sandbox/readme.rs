//! The README's five-minute example, word for word, so that it keeps compiling and passing.

use alipay::{Client, Gateway, PrivateKey, WebPay};
use alipay_sandbox::{AppConfig, SandboxConfig};

#[tokio::test]
async fn a_payment_notifies_the_shop() -> Result<(), Box<dyn std::error::Error>> {
    let (app_id, app_key) = ("2021000000000001", PrivateKey::generate()?);
    // In memory, on 127.0.0.1 and a free port; retry delays 1000 times shorter.
    let sandbox = alipay_sandbox::spawn(SandboxConfig {
        time_scale: 0.001,
        apps: vec![AppConfig::new(app_id, app_key.public_key().clone())],
        ..SandboxConfig::default()
    })
    .await?;
    let client = Client::builder(app_id, app_key, sandbox.alipay_public_key().clone())
        .gateway(Gateway::Url(sandbox.gateway_url()))
        .notify_url("http://127.0.0.1:8000/alipay/notify") // your app under test
        .build()?;
    let link = client.web_pay(&WebPay::page("ORDER_1", "9.90".parse()?, "a course"))?;
    reqwest::get(link.url()).await?; // the cashier page: the trade exists
    reqwest::Client::new() // the buyer pays
        .post(sandbox.url("/api/trades/ORDER_1/pay"))
        .send()
        .await?;
    // The signed notification goes to your notify_url now, and again on Alipay's schedule
    // until your app answers `success`: GET /api/notifications shows every attempt.
    sandbox.shutdown().await;
    Ok(())
}

/// The example above, as the README shows it: a change to one without the other fails here.
#[test]
fn the_readme_shows_this_example() {
    let readme = include_str!("../../README.md");
    let this = include_str!("readme.rs");
    let example = this
        .split_once("\n\n")
        .and_then(|(_, rest)| rest.split_once("\n/// The example above"))
        .map(|(example, _)| example)
        .expect("the example sits between the header and this test");
    assert!(
        readme.contains(&format!("```rust\n{example}```")),
        "crates/sandbox/README.md must show tests/sandbox/readme.rs's example word for word"
    );
}
