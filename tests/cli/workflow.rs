//! A whole run through the real HTTP adapters against two loopback fake LLM servers (a primary
//! that refuses a second request in flight, an Ollama summarizer), then what the inspection
//! commands make of its thread; and the same run as a `--json` event stream.

use expect_test::expect;
use serde_json::Value;

use lemmings_testkit::Hold;

use crate::common::{
    CONDENSED, GREET, REPORT, RUN_AGENTS, Scratch, Servers, TASK, is_uuid, normalise, release_after_condensing,
    script_primary, without_condensed,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_completes_and_the_inspection_commands_read_its_thread() {
    let scratch = Scratch::new();
    let servers = Servers::start().await;
    servers.primary.refuse_concurrent();
    let hold = Hold::new();
    script_primary(&servers.primary, Some(&hold));
    release_after_condensing(&servers, &hold);
    let config = scratch.write("lemmings.toml", &servers.config());
    let ws = scratch.ws_arg();

    let run = scratch
        .lemmings(["run", TASK, "--workspace", &ws, "--config", &config])
        .run()
        .await;
    run.expect_code(0);
    let thread = run.thread();

    // The coder's file, the report, and the primary's requests one at a time, agent by agent.
    let written = std::fs::read_to_string(scratch.ws().join("src/greet.rs")).expect("src/greet.rs was written");
    assert_eq!(written, GREET);
    let report = scratch.ws().join(format!(".lemmings/reports/{thread}.md"));
    let report = std::fs::read_to_string(&report).expect("the report file was written");
    assert!(report.contains(REPORT), "{report}");
    assert_eq!(servers.primary_agents(), RUN_AGENTS, "{run}");
    assert_eq!((servers.primary.max_in_flight(), servers.primary.refused()), (1, 0));
    assert_eq!(servers.primary.remaining(), 0);

    // The condensed line is the summarizer's, in its own place (see `without_condensed`).
    let (stdout, condensed) = without_condensed(&run.stdout);
    assert_eq!(condensed, 1, "{run}");
    assert!(run.stdout.contains(&format!("\n[summarizer] ✓ {CONDENSED}\n")), "{run}");
    let stdout = servers.urls(&scratch.paths(&normalise(&stdout, Some(&thread))));
    expect![[r#"
        thread <thread>
          running in  <ws>
          config      <tmp>/lemmings.toml (--config)
          database    <ws>/.lemmings/lemmings.db
          primary:    qwen3-8b at <primary>
          summarizer: qwen2.5:0.5b at <summarizer>
        notice: no supervisor: its role `supervisor` is off (it is not configured)
        notice: `deep_research` is not offered to the agents: its role `research` is off (it is not configured)
        ✓ scope_initial: remit of 47 chars, 1 milestone (milestone_001)
        ▶ start_milestone: milestone_001: A greeting module exists
        ✓ apply_guidance: 0 new directive(s); 0 in force
        ✓ task_planner: implement task_001: Create src/greet.rs with a public greet fun…
        ✓ implementor: task_001 attempt 1: 1 file(s) claimed, success
        ✓ verify: task_001 attempt 1: verified: 1 claimed file(s) changed
        ✓ qa: task_001 attempt 1: passed
        ✓ mark_complete: task_001 after 1 attempt(s): verified: 1 claimed file(s) chang…
        ✓ apply_guidance: 0 new directive(s); 0 in force
        ✓ task_planner: milestone_done (round 2)
        ✓ record_skip: task_002 (1 in a row): the planner considers the milestone done
        ✓ assessor: complete, milestone complete; 0 gap(s)
        ✓ report: complete
        ✓ complete in <t>: 1 task completed, 0 failed, 1 skipped
          primary      10 calls      100 tokens in      50 out     <t> busy
          summarizer    1 calls       10 tokens in       5 out     <t> busy
          report      <ws>/.lemmings/reports/<thread>.md
          changes     src/greet.rs
          inspect     lemmings show <thread> --workspace <ws>
    "#]]
    .assert_eq(&stdout);
    assert_eq!(run.stderr, "");

    // `threads`: one, complete.
    let threads = scratch.lemmings(["threads", "--workspace", &ws]).run().await;
    threads.expect_code(0);
    expect![[r#"
        THREAD                                STATUS       STEPS  UPDATED                   TASK
        <thread>  complete        13  <time>  Add a greeting module.
    "#]]
    .assert_eq(&scratch.paths(&normalise(&threads.stdout, Some(&thread))));

    // `history`: newest first, one line per checkpoint.
    let history = scratch.lemmings(["history", &thread, "--workspace", &ws]).run().await;
    history.expect_code(0);
    let lines: Vec<&str> = history.stdout.lines().collect();
    assert!(
        lines[0].starts_with("CHECKPOINT") && lines[0].contains("STEP"),
        "{history}"
    );
    let steps: Vec<i64> = lines[1..]
        .iter()
        .map(|line| {
            line.split_whitespace()
                .nth(1)
                .and_then(|step| step.parse().ok())
                .expect("a step")
        })
        .collect();
    assert_eq!(steps.iter().max(), steps.first(), "{history}");
    assert!(steps.len() > 2, "{history}");
    // The oldest is the input, which every run starts from.
    let oldest: Vec<&str> = lines
        .last()
        .map(|line| line.split_whitespace().collect())
        .unwrap_or_default();
    assert_eq!(
        (oldest[1], oldest[2], oldest[4]),
        ("-1", "input", "(input)"),
        "{history}"
    );

    // `show`: the state, readable and as JSON.
    let show = scratch.lemmings(["show", &thread, "--workspace", &ws]).run().await;
    show.expect_code(0);
    let (text, condensed) = without_condensed(&show.stdout);
    assert_eq!(condensed, 1, "{show}");
    expect![[r#"
        thread      <thread>
        checkpoint  <uuid> (step 13, <time>)
        task        Add a greeting module.
        workspace   <ws>
        status      complete
        remit       Give the project a greeting module with a test.

        milestones
          ✓ milestone_001 A greeting module exists
              ✓ task_001 feat: add greet (1 attempt)
              – task_002 (milestone_done) (0 attempts)

        status lines (latest 10)
          implementor      ✓ implementor: task_001 attempt 1: 1 file(s) claimed, success
          verify           ✓ verify: task_001 attempt 1: verified: 1 claimed file(s) changed
          qa               ✓ qa: task_001 attempt 1: passed
          mark_complete    ✓ mark_complete: task_001 after 1 attempt(s): verified: 1 claimed file(s) chang…
          apply_guidance   ✓ apply_guidance: 0 new directive(s); 0 in force
          task_planner     ✓ task_planner: milestone_done (round 2)
          record_skip      ✓ record_skip: task_002 (1 in a row): the planner considers the milestone done
          assessor         ✓ assessor: complete, milestone complete; 0 gap(s)
          report           ✓ report: complete

        report
          Added src/greet.rs with greet().

    "#]]
    .assert_eq(&scratch.paths(&normalise(&text, Some(&thread))));
    let show = scratch
        .lemmings(["show", &thread, "--workspace", &ws, "--json"])
        .run()
        .await;
    show.expect_code(0);
    let state: Value = serde_json::from_str(&show.stdout).expect("`show --json` prints JSON");
    assert_eq!(state["thread_id"], thread.as_str());
    assert_eq!(state["status"], "complete");
    assert_eq!(state["values"]["status"]["status"], "complete", "{state:#}");
    assert_eq!(state["values"]["user_request"], TASK);

    // `prune --keep 1`: fewer checkpoints, the latest kept.
    let prune = scratch
        .lemmings(["prune", "--keep", "1", "--workspace", &ws])
        .run()
        .await;
    prune.expect_code(0);
    let pruned = scratch.lemmings(["history", &thread, "--workspace", &ws]).run().await;
    pruned.expect_code(0);
    assert_eq!(pruned.stdout.lines().count(), 2, "{prune}\n{pruned}");
    // The latest checkpoint stays (its id and step; its NODES are read from the pruned parent).
    let id_and_step = |line: &str| line.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    assert_eq!(
        pruned.stdout.lines().nth(1).map(id_and_step),
        lines.get(1).map(|line| id_and_step(line))
    );

    // A finished thread has nothing to resume.
    let resume = scratch
        .lemmings(["resume", &thread, "--workspace", &ws, "--config", &config])
        .run()
        .await;
    let error = resume.usage_error();
    assert!(error.contains(&thread) && error.contains("finished"), "{resume}");
    assert_eq!(servers.primary_agents(), RUN_AGENTS, "the resume called a model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_writes_one_event_per_line_between_start_and_end() {
    let scratch = Scratch::new();
    let servers = Servers::start().await;
    servers.primary.refuse_concurrent();
    script_primary(&servers.primary, None);
    let config = scratch.write("lemmings.toml", &servers.config());

    let run = scratch
        .lemmings([
            "run",
            TASK,
            "--json",
            "--workspace",
            &scratch.ws_arg(),
            "--config",
            &config,
        ])
        .run()
        .await;
    run.expect_code(0);
    assert_eq!(run.stderr, "");
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
        .collect();
    let (first, last) = (events.first().expect("events"), events.last().expect("events"));
    assert_eq!(first["type"], "start", "{first}");
    let thread = first["thread_id"].as_str().expect("the start names the thread");
    assert!(is_uuid(thread), "{first}");
    assert_eq!(first["resumed"], false);
    assert_eq!(
        first["models"]["primary"],
        format!("qwen3-8b at {}", servers.primary.openai_url())
    );
    assert_eq!(
        (&last["type"], &last["status"], &last["exit_code"]),
        (&Value::from("end"), &Value::from("complete"), &Value::from(0)),
        "{last}"
    );
    assert_eq!(last["changes"], serde_json::json!(["src/greet.rs"]), "{last}");
    let report = format!("{}/.lemmings/reports/{thread}.md", scratch.ws_arg());
    assert_eq!(last["report"], report.as_str(), "{last}");

    // The engine's events: the main path's updates, node by node, and its checkpoints.
    let updated: Vec<&str> = of_type(&events, "update")
        .filter(|event| event["ns"].as_array().is_some_and(Vec::is_empty))
        .filter_map(|event| event["node"].as_str())
        .filter(|node| *node != "status_line")
        .collect();
    assert_eq!(
        updated,
        [
            "scope_initial",
            "start_milestone",
            "apply_guidance",
            "task_planner",
            "implementor",
            "verify",
            "qa",
            "mark_complete",
            "apply_guidance",
            "task_planner",
            "record_skip",
            "assessor",
            "report"
        ]
    );
    let checkpoints = of_type(&events, "checkpoint").count();
    assert!(
        checkpoints > updated.len(),
        "{checkpoints} checkpoints for {} updates",
        updated.len()
    );
    assert!(of_type(&events, "task_start").count() > 0 && of_type(&events, "message").count() > 0);
    assert_eq!(of_type(&events, "start").count() + of_type(&events, "end").count(), 2);
}

/// The events of this type.
fn of_type<'a>(events: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> {
    events.iter().filter(move |event| event["type"] == kind)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_from_an_earlier_checkpoint_forks_the_thread() {
    let scratch = Scratch::new();
    let servers = Servers::start().await;
    script_primary(&servers.primary, None);
    servers.summarizer.set_default(lemmings_testkit::Reply::text(CONDENSED));
    let config = scratch.write("lemmings.toml", &servers.config());
    let ws = scratch.ws_arg();
    let run = scratch
        .lemmings(["run", TASK, "--workspace", &ws, "--config", &config])
        .run()
        .await;
    run.expect_code(0);
    let thread = run.thread();

    // The checkpoint whose next node is the report: forking there runs the report again.
    let history = scratch
        .lemmings(["history", &thread, "--workspace", &ws, "--json"])
        .run()
        .await;
    history.expect_code(0);
    let rows: Vec<Value> = history
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON row"))
        .collect();
    let before_report = rows
        .iter()
        .find(|row| row["next"] == serde_json::json!(["report"]))
        .expect("a checkpoint before the report");
    let from = before_report["checkpoint_id"].as_str().expect("an id").to_owned();
    let agents_before = servers.primary_agents();
    servers
        .primary
        .push(lemmings_testkit::Reply::text("The forked report."));

    let fork = scratch
        .lemmings([
            "resume",
            &thread,
            "--from",
            &from,
            "--workspace",
            &ws,
            "--config",
            &config,
        ])
        .run()
        .await;
    fork.expect_code(0);
    // Only the report ran again: one more chat request, to the report agent.
    let agents = servers.primary_agents();
    assert_eq!(agents.len(), agents_before.len() + 1, "{fork}");
    assert_eq!(agents.last().map(String::as_str), Some("report"), "{fork}");
    let show = scratch.lemmings(["show", &thread, "--workspace", &ws]).run().await;
    show.expect_code(0);
    assert!(show.stdout.contains("The forked report."), "{}", show.stdout);
    // The fork's checkpoints are added to the thread's history; the old ones stay.
    let after = scratch.lemmings(["history", &thread, "--workspace", &ws]).run().await;
    assert!(
        after.stdout.lines().count() > history.stdout.lines().count() + 1,
        "{}",
        after.stdout
    );
    // An unknown checkpoint is refused before anything runs.
    let unknown = scratch
        .lemmings([
            "resume",
            &thread,
            "--from",
            "00000000-0000-7000-8000-000000000000",
            "--workspace",
            &ws,
            "--config",
            &config,
        ])
        .run()
        .await;
    unknown.expect_code(2);
    assert!(unknown.stderr.contains("has no checkpoint"), "{}", unknown.stderr);
    // An answer for a thread that asked nothing is refused (the workflow's nodes do not
    // interrupt today; the engine's resume with a value is tested in lemmings-graph).
    let answer = scratch
        .lemmings([
            "resume",
            &thread,
            "--answer",
            "yes",
            "--workspace",
            &ws,
            "--config",
            &config,
        ])
        .run()
        .await;
    answer.expect_code(2);
    assert!(
        answer.stderr.contains("is not waiting for an answer"),
        "{}",
        answer.stderr
    );
}
