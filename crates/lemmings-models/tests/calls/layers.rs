//! The layers between roles: the per-server concurrency gate, fallback to the primary, the
//! circuit breaker and the retry budget, over real HTTP with paused time.

use std::time::Duration;

use lemmings_models::ModelErrorKind;
use lemmings_testkit::{FakeServer, Hold, Reply};

use crate::common::{ask, primary, registry};

fn summarizer(base: &str, extra: &str) -> String {
    format!("[llm.summarizer]\nprovider = \"ollama\"\nmodel = \"qwen2.5:0.5b\"\nbase_url = \"{base}\"\n{extra}\n")
}

#[tokio::test(start_paused = true)]
async fn the_gate_holds_the_primary_at_one_request_while_the_summarizer_runs_in_parallel() {
    let gpu = FakeServer::start().await;
    let cpu = FakeServer::start().await;
    let hold = Hold::new();
    gpu.set_default(Reply::text("generated").held(&hold));
    cpu.set_default(Reply::text("summary"));
    let models = registry(&format!(
        "{}{}",
        primary(&gpu.openai_url(), ""),
        summarizer(&cpu.url(), "")
    ));
    let primary = models.get("primary").unwrap();
    let summarizer = models.get("summarizer").unwrap();

    let calls: Vec<_> = (0..3)
        .map(|i| {
            let primary = primary.clone();
            tokio::spawn(async move { primary.chat(ask(&format!("task {i}")), None).await })
        })
        .collect();
    gpu.wait_for_requests(1).await;
    // The GPU is busy with one generation; the summarizer is not queued behind it.
    for _ in 0..3 {
        assert_eq!(
            summarizer.chat(ask("summarize"), None).await.unwrap().content,
            "summary"
        );
    }
    assert_eq!(
        gpu.requests().len(),
        1,
        "the other primary calls wait at the gate, not at the server"
    );
    assert_eq!(models.gate("primary").unwrap().in_flight(), 1);
    hold.release();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().content, "generated");
    }
    assert_eq!((gpu.requests().len(), gpu.max_in_flight()), (3, 1));
    assert_eq!(models.gate("primary").unwrap().peak(), 1);
}

#[tokio::test(start_paused = true)]
async fn roles_on_one_server_share_its_gate() {
    let ollama = FakeServer::start().await;
    let hold = Hold::new();
    ollama.set_default(Reply::text("ok").held(&hold));
    let toml = format!(
        "{}{}[llm.supervisor]\nprovider = \"ollama\"\nmodel = \"phi3:mini\"\nbase_url = \"{}\"\n",
        primary("http://127.0.0.1:9/v1", ""),
        summarizer(&ollama.url(), ""),
        // The same server through its OpenAI-compatible route: still one gate.
        ollama.openai_url(),
    );
    let models = registry(&toml);
    let a = tokio::spawn({
        let m = models.get("summarizer").unwrap();
        async move { m.chat(ask("a"), None).await }
    });
    let b = tokio::spawn({
        let m = models.get("supervisor").unwrap();
        async move { m.chat(ask("b"), None).await }
    });
    ollama.wait_for_requests(1).await;
    tokio::task::yield_now().await;
    assert_eq!(ollama.requests().len(), 1);
    hold.release();
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    assert_eq!(ollama.max_in_flight(), 1);
    let paths: Vec<String> = ollama.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.len(), 2);
    assert!(
        paths.contains(&"/api/chat".to_owned()) && paths.contains(&"/v1/chat/completions".to_owned()),
        "{paths:?}"
    );
    assert!(std::sync::Arc::ptr_eq(
        &models.gate("summarizer").unwrap(),
        &models.gate("supervisor").unwrap()
    ));
}

#[tokio::test(start_paused = true)]
async fn a_dead_summarizer_falls_back_to_the_primary_and_costs_one_probe_per_cooldown() {
    let gpu = FakeServer::start().await;
    gpu.set_default(Reply::text("summary from primary"));
    let dead = FakeServer::refused_url();
    let models = registry(&format!(
        "{}{}",
        primary(&gpu.openai_url(), ""),
        summarizer(&dead, "max_attempts = 2")
    ));
    let summarizer = models.get("summarizer").unwrap();

    let first = summarizer.chat(ask("summarize"), None).await.unwrap();
    assert_eq!(
        (first.content.as_str(), first.answered_by.role.as_str()),
        ("summary from primary", "primary")
    );
    let usage = models.usage();
    assert_eq!((usage["summarizer"].attempts, usage["summarizer"].fallbacks), (2, 1));

    // The circuit is open: the next calls go straight to the primary.
    for _ in 0..5 {
        summarizer.chat(ask("summarize"), None).await.unwrap();
    }
    assert_eq!(
        models.usage()["summarizer"].attempts,
        2,
        "no attempt on the dead server while the circuit is open"
    );

    // After the cooldown, one probe (with its retries) and then open again, for longer.
    tokio::time::advance(Duration::from_secs(31)).await;
    summarizer.chat(ask("summarize"), None).await.unwrap();
    assert_eq!(models.usage()["summarizer"].attempts, 4);
    tokio::time::advance(Duration::from_secs(31)).await;
    summarizer.chat(ask("summarize"), None).await.unwrap();
    assert_eq!(
        models.usage()["summarizer"].attempts,
        4,
        "the cooldown doubled after a failed probe"
    );

    let usage = models.usage();
    assert_eq!(
        (
            usage["summarizer"].calls,
            usage["summarizer"].fallbacks,
            usage["summarizer"].answers
        ),
        (8, 8, 0)
    );
    assert_eq!((usage["primary"].answers, usage["primary"].calls), (8, 0));
    assert_eq!(gpu.requests().len(), 8);
}

#[tokio::test(start_paused = true)]
async fn a_fallback_to_the_primary_queues_on_the_primary_gate() {
    let gpu = FakeServer::start().await;
    let hold = Hold::new();
    gpu.set_default(Reply::text("from primary").held(&hold));
    let models = registry(&format!(
        "{}{}",
        primary(&gpu.openai_url(), ""),
        summarizer(&FakeServer::refused_url(), "max_attempts = 1")
    ));
    let busy = tokio::spawn({
        let primary = models.get("primary").unwrap();
        async move { primary.chat(ask("long generation"), None).await }
    });
    gpu.wait_for_requests(1).await;
    let summary = tokio::spawn({
        let summarizer = models.get("summarizer").unwrap();
        async move { summarizer.chat(ask("summarize"), None).await }
    });
    // The summarizer's own attempt fails at once; its fallback waits for the GPU.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(gpu.requests().len(), 1);
    hold.release();
    assert_eq!(summary.await.unwrap().unwrap().answered_by.role, "primary");
    busy.await.unwrap().unwrap();
    assert_eq!(gpu.max_in_flight(), 1);
}

#[tokio::test(start_paused = true)]
async fn when_every_model_fails_the_error_names_each() {
    let models = registry(&format!(
        "{}{}",
        primary(&format!("{}/v1", FakeServer::refused_url()), "max_attempts = 1"),
        summarizer(&FakeServer::refused_url(), "max_attempts = 1")
    ));
    let error = models
        .get("summarizer")
        .unwrap()
        .chat(ask("summarize"), None)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ModelErrorKind::Connect);
    let text = error.to_string();
    assert!(
        text.starts_with("role `summarizer` (model qwen2.5:0.5b): cannot reach the server"),
        "{text}"
    );
    assert!(
        text.contains("; fallback role `primary` (model qwen3-8b) failed too: cannot reach the server"),
        "{text}"
    );
    assert_eq!(error.attempts(), 2);
}

#[tokio::test(start_paused = true)]
async fn retries_stay_within_the_budget_under_an_error_burst() {
    let server = FakeServer::start().await;
    // Every other request fails: 100 calls, each of which would retry once.
    for _ in 0..100 {
        server.push(Reply::error(503, "busy"));
        server.push(Reply::text("ok"));
    }
    let models = registry(&primary(&server.openai_url(), "max_attempts = 2\nbackoff_s = 0"));
    let model = models.get("primary").unwrap();
    let mut failed = 0;
    for _ in 0..100 {
        if model.chat(ask("go"), None).await.is_err() {
            failed += 1;
        }
    }
    let retries = models.usage()["primary"].attempts - 100;
    assert_eq!(server.requests().len() as u64, 100 + retries);
    // A reserve of 10 plus 20% of 100 calls; past that, calls fail instead of doubling the
    // load on a struggling server.
    assert!((10..=30).contains(&retries), "{retries} retries");
    assert!(failed > 0, "the budget ran out");
}

#[tokio::test(start_paused = true)]
async fn calls_in_flight_are_listed_with_their_role_model_and_pieces_streamed() {
    let gpu = FakeServer::start().await;
    let hold = Hold::new();
    gpu.push(Reply::completion(lemmings_testkit::Completion::text("one two three").chunk_size(4)).held(&hold));
    let models = registry(&primary(&gpu.openai_url(), ""));
    assert!(models.active_calls().is_empty());
    // The sink sees the ledger as it is when each piece arrives.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink: lemmings_models::TokenSink = {
        let (models, seen) = (models.clone(), seen.clone());
        std::sync::Arc::new(move |_event: &lemmings_models::StreamEvent| {
            let calls = models.active_calls();
            seen.lock()
                .unwrap()
                .push((calls.len(), calls.first().map(|c| c.chunks)));
        })
    };
    let call = tokio::spawn({
        let primary = models.get("primary").unwrap();
        async move { primary.chat(ask("count"), Some(sink)).await }
    });
    gpu.wait_for_requests(1).await;
    tokio::time::advance(Duration::from_secs(2)).await;
    let calls = models.active_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let first = &calls[0];
    assert_eq!(
        (
            first.role.as_str(),
            first.model.as_str(),
            first.answering.as_str(),
            first.chunks
        ),
        ("primary", "qwen3-8b", "primary", 0)
    );
    assert!(first.elapsed >= Duration::from_secs(2), "{:?}", first.elapsed);
    hold.release();
    assert_eq!(call.await.unwrap().unwrap().content, "one two three");
    let seen = seen.lock().unwrap().clone();
    // "one two three" in pieces of 4 characters: 4 pieces, counted 1, 2, 3, 4 as they arrive.
    assert_eq!(
        seen.iter().map(|(n, c)| (*n, c.unwrap_or(0))).collect::<Vec<_>>(),
        [(1, 1), (1, 2), (1, 3), (1, 4)]
    );
    assert!(
        models.active_calls().is_empty(),
        "the finished call is no longer listed"
    );
}
