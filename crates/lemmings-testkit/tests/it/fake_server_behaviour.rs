//! The fake server's bookkeeping and misbehaviour over real loopback TCP: recorded requests,
//! waiting for arrivals, in-flight counts, holds, delays under paused time, hangs, closes,
//! refused connections, refused concurrent requests, the default and missing replies, answers
//! by content (the responder), model listings.

use std::time::Duration;

use lemmings_testkit::{Completion, FakeServer, Hold, Reply};
use serde_json::{Value, json};

use crate::client;

#[tokio::test]
async fn records_method_path_headers_and_body() {
    let server = FakeServer::start().await;
    server.set_default(Reply::text("ok"));
    let mut conn = client::connect(&server.url()).await.expect("cannot connect");
    conn.post("/v1/chat/completions?x=1", &json!({ "model": "m" })).await;
    conn.send("POST", "/empty", None).await.expect("no response");
    let recorded = server.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        (recorded[0].method.as_str(), recorded[0].path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(recorded[0].body, json!({ "model": "m" }));
    assert_eq!(recorded[0].header("Content-Type"), Some("application/json"));
    assert!(recorded[0].headers.iter().any(|(name, _)| name == "host"));
    assert_eq!(recorded[1].body, Value::Null);
    assert_eq!(recorded[1].header("x-missing"), None);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_recorded_as_a_string() {
    let server = FakeServer::start().await;
    server.push(Reply::status(400, "bad"));
    let mut conn = client::connect(&server.url()).await.expect("cannot connect");
    conn.send_raw("POST", "/x", "plain words").await.expect("no response");
    assert_eq!(server.requests()[0].body, Value::String("plain words".into()));
}

#[tokio::test]
async fn keeps_connections_alive_and_serves_the_queue_in_order_then_the_default() {
    let server = FakeServer::start().await;
    server.push(Reply::text("first"));
    server.push(Reply::error(500, "second"));
    server.set_default(Reply::status(418, "default"));
    let mut conn = client::connect(&server.url()).await.expect("cannot connect");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(conn.post("/v1/chat/completions", &json!({})).await.status);
    }
    assert_eq!(statuses, [200, 500, 418, 418]);
    assert_eq!(server.remaining(), 0);
}

#[tokio::test]
async fn a_responder_answers_by_content_after_the_queue_and_instead_of_the_default() {
    let server = FakeServer::start().await;
    server.push(Reply::text("queued"));
    server.set_default(Reply::status(418, "default"));
    server.respond_with(|request| match request.body["ask"].as_str() {
        Some("teapot") => Reply::status(418, "short and stout"),
        Some(other) => Reply::status(200, &format!("answered {other}")),
        None => Reply::error(400, "no ask"),
    });
    let mut conn = client::connect(&server.url()).await.expect("cannot connect");
    let mut answers = Vec::new();
    for ask in ["first", "second", "teapot"] {
        let answer = conn.post("/v1/chat/completions", &json!({ "ask": ask })).await;
        answers.push((answer.status, answer.clean_body().to_owned()));
    }
    let queued = answers[0].1.contains("queued");
    assert!(queued, "the queue comes first: {answers:?}");
    assert_eq!(
        answers[1..],
        [(200, "answered second".to_owned()), (418, "short and stout".to_owned())]
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn without_a_reply_answers_500_naming_the_request() {
    let server = FakeServer::start().await;
    let answer = client::post(&server.url(), "/v1/chat/completions", &json!({})).await;
    assert_eq!(
        (answer.status, answer.clean_body()),
        (500, "fake server: no scripted reply for POST /v1/chat/completions")
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn lists_models_without_consuming_the_queue() {
    let server = FakeServer::start().await;
    let unset = client::get(&server.url(), "/v1/models").await;
    assert_eq!(unset.status, 500, "without models a listing is an ordinary request");
    server.set_models(vec!["qwen3:8b".into(), "llama3".into()]);
    server.push(Reply::text("kept"));
    let openai = client::get(&server.url(), "/v1/models").await.json();
    let ids: Vec<&str> = openai["data"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|model| model["id"].as_str())
        .collect();
    assert_eq!(
        (openai["object"].as_str(), ids),
        (Some("list"), vec!["qwen3:8b", "llama3"])
    );
    let ollama = client::get(&server.url(), "/api/tags").await.json();
    assert_eq!(ollama["models"][1]["name"], "llama3");
    assert_eq!(ollama["models"][0]["model"], "qwen3:8b");
    assert_eq!(server.remaining(), 1);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn held_replies_count_in_flight_until_released() {
    let server = FakeServer::start().await;
    let hold = Hold::new();
    server.set_default(Reply::text("done").held(&hold));
    let url = server.url();
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { client::post(&url, "/v1/chat/completions", &json!({})).await })
        })
        .collect();
    server.wait_for_requests(3).await;
    assert_eq!(server.in_flight(), 3);
    hold.release();
    for call in calls {
        let answer = call.await.expect("the client task panicked");
        assert_eq!(answer.json()["choices"][0]["message"]["content"], "done");
    }
    assert_eq!((server.in_flight(), server.max_in_flight()), (0, 3));
}

#[tokio::test]
async fn refusing_concurrent_requests_answers_503_without_taking_the_queue() {
    let server = FakeServer::start().await;
    server.refuse_concurrent();
    let hold = Hold::new();
    server.push(Reply::text("first").held(&hold));
    server.push(Reply::text("second"));
    let url = server.url();
    let first = tokio::spawn(async move { client::post(&url, "/v1/chat/completions", &json!({ "n": 1 })).await });
    server.wait_for_requests(1).await;

    let refused = client::post(&server.url(), "/v1/chat/completions", &json!({ "n": 2 })).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("content-type"), Some("application/json"));
    let error = &refused.json()["error"];
    assert_eq!((&error["type"], &error["code"]), (&json!("server_error"), &json!(503)));
    assert_eq!(
        error["message"],
        "fake server: refused POST /v1/chat/completions: another request is being answered"
    );
    assert_eq!((server.refused(), server.remaining(), server.in_flight()), (1, 1, 1));

    hold.release();
    let first = first.await.expect("the client task panicked");
    assert_eq!(first.json()["choices"][0]["message"]["content"], "first");
    // Once an answer has been read the server is free: the next request takes the queue.
    let next = client::post(&server.url(), "/v1/chat/completions", &json!({ "n": 3 })).await;
    assert_eq!(next.json()["choices"][0]["message"]["content"], "second");

    let bodies: Vec<Value> = server.requests().into_iter().map(|r| r.body["n"].clone()).collect();
    assert_eq!(
        bodies,
        [json!(1), json!(2), json!(3)],
        "refused requests are recorded too"
    );
    assert_eq!((server.refused(), server.remaining()), (1, 0));
    assert_eq!(
        (server.in_flight(), server.max_in_flight()),
        (0, 2),
        "a refused request is in flight while its 503 is sent"
    );
}

#[tokio::test]
async fn refusing_concurrent_requests_never_refuses_sequential_ones() {
    let server = FakeServer::start().await;
    server.refuse_concurrent();
    server.set_models(vec!["m".into()]);
    server.set_default(Completion::text("a streamed answer in many small chunks"));
    let mut conn = client::connect(&server.url()).await.expect("cannot connect");
    for stream in [true, false, true] {
        let answer = conn.post("/v1/chat/completions", &json!({ "stream": stream })).await;
        assert_eq!((answer.status, answer.error), (200, None));
        assert_eq!(
            conn.send("GET", "/v1/models", None).await.expect("no response").status,
            200
        );
        let other = client::post(&server.url(), "/api/chat", &json!({ "stream": stream })).await;
        assert_eq!(other.status, 200);
    }
    assert_eq!((server.refused(), server.max_in_flight()), (0, 1));
    assert_eq!(server.requests().len(), 9);
}

#[tokio::test(start_paused = true)]
async fn delays_use_tokio_time() {
    let server = FakeServer::start().await;
    server.push(Reply::text("late").delay(Duration::from_secs(90)));
    let started = tokio::time::Instant::now();
    let answer = client::post(&server.url(), "/v1/chat/completions", &json!({})).await;
    assert_eq!(answer.status, 200);
    assert!(started.elapsed() >= Duration::from_secs(90));
}

#[tokio::test(start_paused = true)]
async fn a_hang_never_answers_and_fails_the_client_when_the_server_is_dropped() {
    let server = FakeServer::start().await;
    server.push(Reply::hang());
    let url = server.url();
    let mut call = tokio::spawn(async move { client::try_post(&url, "/v1/chat/completions", &json!({})).await });
    server.wait_for_requests(1).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(600), &mut call).await.is_err(),
        "a hang must not answer"
    );
    assert_eq!(server.in_flight(), 1);
    drop(server);
    let outcome = call.await.expect("the client task panicked");
    assert!(outcome.is_err(), "the client must see the connection die: {outcome:?}");
}

#[tokio::test]
async fn a_close_drops_the_connection_without_a_response() {
    let server = FakeServer::start().await;
    server.push(Reply::close());
    server.push(Reply::text("after"));
    let outcome = client::try_post(&server.url(), "/v1/chat/completions", &json!({})).await;
    assert!(outcome.is_err(), "the client must see no response: {outcome:?}");
    let next = client::post(&server.url(), "/v1/chat/completions", &json!({})).await;
    assert_eq!(next.status, 200);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(server.in_flight(), 0);
}

#[tokio::test]
async fn the_refused_url_refuses() {
    let url = FakeServer::refused_url();
    assert!(url.starts_with("http://127.0.0.1:"));
    let error = client::connect(&url).await.err().expect("nothing listens there");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn urls_and_an_invalid_scripted_header() {
    let server = FakeServer::start().await;
    assert_eq!(server.openai_url(), format!("{}/v1", server.url()));
    assert!(!server.url().ends_with('/'));
    server.push(Completion::text("x"));
    server.push(Reply::text("x").header("bad header", "v"));
    assert_eq!(
        client::post(&server.url(), "/v1/chat/completions", &json!({}))
            .await
            .status,
        200
    );
    let answer = client::post(&server.url(), "/v1/chat/completions", &json!({})).await;
    assert_eq!(answer.status, 500);
    assert!(
        answer
            .body
            .starts_with("fake server: invalid scripted status or header"),
        "{}",
        answer.body
    );
}
