//! The LLM faults of the reliability plan (T4) over real HTTP, with time paused so waits are
//! exact and instant: per case, the attempts made, the virtual time spent and the final
//! result or error.

use std::time::Duration;

use expect_test::{Expect, expect};
use lemmings_models::{ChatResponse, ModelError, ModelErrorKind};
use lemmings_testkit::{Completion, FakeServer, Reply};
use tokio::time::Instant;

use crate::common::{ask, primary, recorder, registry, streamed_text};

struct Run {
    result: Result<ChatResponse, ModelError>,
    requests: usize,
    elapsed: Duration,
}

/// Calls the primary once against a server scripted with `replies` (then 200s), `extra`
/// being TOML for the role.
async fn run(replies: Vec<Reply>, extra: &str, stream: bool) -> Run {
    let server = FakeServer::start().await;
    for reply in replies {
        server.push(reply);
    }
    server.set_default(Reply::text("fine"));
    let models = registry(&primary(&server.openai_url(), extra));
    let started = Instant::now();
    let sink = stream.then(|| recorder().0);
    let result = models.get("primary").unwrap().chat(ask("go"), sink).await;
    Run {
        result,
        requests: server.requests().len(),
        elapsed: started.elapsed(),
    }
}

/// `outcome, requests` as one line.
fn summary(run: &Run) -> String {
    match &run.result {
        Ok(response) => format!("ok {:?} after {} requests", response.content, run.requests),
        Err(error) => format!("{:?}: {error} [{} requests]", error.kind(), run.requests),
    }
}

async fn check(replies: Vec<Reply>, extra: &str, expect: Expect) -> Run {
    let run = run(replies, extra, false).await;
    expect.assert_eq(&summary(&run));
    run
}

fn within(elapsed: Duration, low: f64, high: f64) {
    let secs = elapsed.as_secs_f64();
    assert!(secs >= low && secs <= high, "waited {secs}s, expected {low}..={high}s");
}

#[tokio::test(start_paused = true)]
async fn connection_refused_is_retried_with_backoff_then_reported() {
    let models = registry(&primary(&format!("{}/v1", FakeServer::refused_url()), ""));
    let started = Instant::now();
    let error = models.get("primary").unwrap().chat(ask("go"), None).await.unwrap_err();
    assert_eq!((error.kind(), error.attempts()), (ModelErrorKind::Connect, 4));
    assert!(
        error
            .to_string()
            .starts_with("role `primary` (model qwen3-8b): cannot reach the server"),
        "{error}"
    );
    assert!(error.to_string().ends_with("after 4 attempts"), "{error}");
    // Backoffs of 1, 2 and 4 seconds, each jittered into its upper half.
    within(started.elapsed(), 3.5, 7.0);
}

#[tokio::test(start_paused = true)]
async fn a_server_that_accepts_then_hangs_times_out_per_attempt() {
    let run = check(
        vec![Reply::hang(), Reply::hang()],
        "timeout_s = 30\nmax_attempts = 2",
        expect![[r#"Timeout: role `primary` (model qwen3-8b): no complete answer within 30s; raise the role's timeout_s if the model is just slow after 2 attempts [2 requests]"#]],
    )
    .await;
    within(run.elapsed, 60.5, 61.0);
}

#[tokio::test(start_paused = true)]
async fn slow_headers_within_the_limit_are_waited_for() {
    let run = check(
        vec![Reply::text("late").delay(Duration::from_secs(20))],
        "timeout_s = 30",
        expect![[r#"ok "late" after 1 requests"#]],
    )
    .await;
    within(run.elapsed, 20.0, 20.1);
}

#[tokio::test(start_paused = true)]
async fn rate_limits_honour_retry_after() {
    let run = check(
        vec![Reply::error(429, "slow down").header("Retry-After", "2")],
        "",
        expect![[r#"ok "fine" after 2 requests"#]],
    )
    .await;
    within(run.elapsed, 2.0, 2.05);

    let run = check(
        vec![Reply::error(429, "slow down")],
        "",
        expect![[r#"ok "fine" after 2 requests"#]],
    )
    .await;
    within(run.elapsed, 0.5, 1.0);

    // Asked to wait longer than max_backoff_s: no retry (the fallback may take it).
    let run = check(
        vec![Reply::error(429, "quota exhausted").header("Retry-After", "3600")],
        "",
        expect![[r#"RateLimited: role `primary` (model qwen3-8b): the server is rate limiting requests: {"error":{"message":"quota exhausted","type":"rate_limit_error","code":429}} (HTTP 429) [1 requests]"#]],
    )
    .await;
    assert_eq!(run.result.unwrap_err().retry_after(), Some(Duration::from_secs(3600)));
    within(run.elapsed, 0.0, 0.01);
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried() {
    for status in [500, 502, 503, 529] {
        let run = run(vec![Reply::error(status, "overloaded")], "", false).await;
        assert_eq!(summary(&run), r#"ok "fine" after 2 requests"#, "HTTP {status}");
    }
    let all = vec![Reply::error(503, "down"); 4];
    check(
        all,
        "",
        expect![[r#"Server: role `primary` (model qwen3-8b): the server failed: {"error":{"message":"down","type":"server_error","code":503}} (HTTP 503) after 4 attempts [4 requests]"#]],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn client_errors_are_not_retried() {
    let cases = [
        (
            400,
            expect![[
                r#"Request: role `primary` (model qwen3-8b): the server rejected the request: {"error":{"message":"nope","type":"invalid_request_error","code":400}} (HTTP 400) [1 requests]"#
            ]],
        ),
        (
            401,
            expect![[
                r#"Auth: role `primary` (model qwen3-8b): the server refused the credentials; check the role's api_key: {"error":{"message":"nope","type":"authentication_error","code":401}} (HTTP 401) [1 requests]"#
            ]],
        ),
        (
            403,
            expect![[
                r#"Auth: role `primary` (model qwen3-8b): the server refused the credentials; check the role's api_key: {"error":{"message":"nope","type":"permission_error","code":403}} (HTTP 403) [1 requests]"#
            ]],
        ),
        (
            404,
            expect![[
                r#"Request: role `primary` (model qwen3-8b): the server has no such model or route; check the role's model and base_url: {"error":{"message":"nope","type":"not_found_error","code":404}} (HTTP 404) [1 requests]"#
            ]],
        ),
    ];
    for (status, expect) in cases {
        check(vec![Reply::error(status, "nope")], "", expect).await;
    }
}

#[tokio::test(start_paused = true)]
async fn unreadable_answers_are_retried_then_reported() {
    check(
        vec![Reply::raw(200, "text/html", "<html>proxy error</html>")],
        "",
        expect![[r#"ok "fine" after 2 requests"#]],
    )
    .await;
    check(
        vec![Reply::raw(200, "application/json", "<html>proxy error</html>"); 4],
        "",
        expect!["BadResponse: role `primary` (model qwen3-8b): the server's answer is not valid JSON: expected value at line 1 column 1 after 4 attempts [4 requests]"],
    )
    .await;
    check(
        vec![Reply::raw(200, "application/json", r#"{"id":"x","object":"chat.completion"}"#); 4],
        "",
        expect!["Truncated: role `primary` (model qwen3-8b): the answer ended before it was complete (a stream cut short, or a body without choices) after 4 attempts [4 requests]"],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn empty_completions_are_retried_then_reported() {
    check(vec![Reply::text("")], "", expect![[r#"ok "fine" after 2 requests"#]]).await;
    check(
        vec![Reply::text(""); 4],
        "",
        expect![[r#"Empty: role `primary` (model qwen3-8b): the model returned an empty completion after 4 attempts [4 requests]"#]],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_connection_closed_without_an_answer_is_retried() {
    check(vec![Reply::close()], "", expect![[r#"ok "fine" after 2 requests"#]]).await;
    check(
        vec![Reply::text("complete answer").cut_after(10)],
        "",
        expect![[r#"ok "fine" after 2 requests"#]],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_stream_cut_mid_way_is_retried_as_a_whole() {
    let server = FakeServer::start().await;
    server.push(Reply::completion(Completion::text("Hello brave new world")).cut_after(4));
    server.push(Reply::completion(Completion::text("Hello brave new world")).no_done());
    server.push(Reply::text("Hello brave new world"));
    let models = registry(&primary(&server.openai_url(), ""));
    let (sink, events) = recorder();
    let response = models
        .get("primary")
        .unwrap()
        .chat(ask("go"), Some(sink))
        .await
        .unwrap();
    assert_eq!(response.content, "Hello brave new world");
    assert_eq!(server.requests().len(), 3);
    let events = events.lock().unwrap().clone();
    let discards = events
        .iter()
        .filter(|e| matches!(e, lemmings_models::StreamEvent::Discard { .. }))
        .count();
    assert_eq!(discards, 2, "each failed attempt voids what it streamed: {events:?}");
    assert_eq!(
        streamed_text(&events),
        "Hello brave new world",
        "no partial text survives"
    );
}
