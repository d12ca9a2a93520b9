//! Stopping a run in the middle of a model call, by kill -9 and by Ctrl-C (SIGINT), then
//! `lemmings resume`: the job finishes from the last checkpoint without asking the models again
//! for what was already done.
//!
//! The primary's implementor reply is held and never released, so the run is always stopped
//! with that request in flight; the request is lost with the process, so its reply is queued
//! again for the resume. The primary does not refuse concurrent requests here: the dead
//! process's held request counts as being answered until the server notices its closed
//! connection, and the resume must not race that.

use lemmings_testkit::Hold;

use crate::common::{
    GREET, Output, RUN_AGENTS, Running, Scratch, Servers, TASK, WATCHDOG, implementor_reply, script_after_implementor,
    script_until_implementor, wait_for_post,
};

/// How the test stops the run.
#[derive(Clone, Copy, Debug)]
enum Stop {
    /// SIGKILL, as a crash or a power cut would.
    Kill,
    /// SIGINT, as Ctrl-C sends it.
    CtrlC,
}

/// A run started on `servers` whose implementor request is in flight, held forever.
struct Stuck {
    scratch: Scratch,
    servers: Servers,
    config: String,
    run: Option<Running>,
    _hold: Hold,
}

async fn stuck_in_the_implementor() -> Stuck {
    let scratch = Scratch::new();
    let servers = Servers::start().await;
    let hold = Hold::new();
    script_until_implementor(&servers.primary);
    servers.primary.push(implementor_reply(Some(&hold)));
    let config = scratch.write("lemmings.toml", &servers.config());
    let mut run = scratch
        .lemmings(["run", TASK, "--workspace", &scratch.ws_arg(), "--config", &config])
        .start();
    let implementor = wait_for_post(&servers.primary, |request| request.agent() == "implementation");
    if tokio::time::timeout(WATCHDOG, implementor).await.is_err() {
        run.kill();
        let out = run.wait().await;
        panic!(
            "the implementor's request never came: {:?}\n{out}",
            servers.primary_agents()
        );
    }
    Stuck {
        scratch,
        servers,
        config,
        run: Some(run),
        _hold: hold,
    }
}

impl Stuck {
    /// Stops the run and waits for its end.
    async fn stop(&mut self, how: Stop) -> Output {
        let mut run = self.run.take().expect("the run is stopped once");
        match how {
            Stop::Kill => run.kill(),
            Stop::CtrlC => run.interrupt(),
        }
        run.wait().await
    }

    /// Queues the rest of the run (the implementor's first reply again: its request was lost),
    /// resumes `thread`, and checks that the job is finished from the checkpoint.
    async fn resume_finishes(&self, thread: &str) {
        let before = self.servers.primary_agents();
        assert_eq!(before, RUN_AGENTS[..3], "the first run's requests");
        self.servers.primary.push(implementor_reply(None));
        script_after_implementor(&self.servers.primary);
        let ws = self.scratch.ws_arg();
        let resume = self
            .scratch
            .lemmings(["resume", thread, "--workspace", &ws, "--config", &self.config])
            .run()
            .await;
        resume.expect_code(0);
        assert_eq!(resume.thread(), thread);
        assert!(resume.stdout.contains(&format!("\n  resuming in  {ws}\n")), "{resume}");
        assert!(resume.stdout.contains("\n✓ complete in "), "{resume}");
        let written = std::fs::read_to_string(self.scratch.ws().join("src/greet.rs")).expect("src/greet.rs");
        assert_eq!(written, GREET);
        // The scope and the first planner round were not asked again: the resume starts at
        // the implementor, whose checkpoint was saved before its request went out.
        let after = self.servers.primary_agents()[before.len()..].to_vec();
        assert_eq!(after, RUN_AGENTS[2..], "{resume}");
        assert_eq!(self.servers.primary.remaining(), 0);
    }
}

impl Drop for Stuck {
    /// A failed assertion must not leave the run waiting for its reply.
    fn drop(&mut self) {
        if let Some(run) = &mut self.run {
            run.kill();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_finishes_a_run_killed_during_a_model_call() {
    let mut stuck = stuck_in_the_implementor().await;
    let killed = stuck.stop(Stop::Kill).await;
    assert_eq!(killed.code, None, "SIGKILL ends it: {killed}");
    let thread = killed.thread();
    assert!(!stuck.scratch.ws().join("src/greet.rs").exists());
    stuck.resume_finishes(&thread).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_a_run_with_130_and_resume_finishes_it() {
    let mut stuck = stuck_in_the_implementor().await;
    let stopped = stuck.stop(Stop::CtrlC).await;
    stopped.expect_code(130);
    let thread = stopped.thread();
    let hint = format!(
        "continue with: lemmings resume {thread} --workspace {}",
        stuck.scratch.ws_arg()
    );
    assert!(stopped.stderr.contains("interrupted at step "), "{stopped}");
    assert!(stopped.stderr.contains(&hint), "{stopped}");
    stuck.resume_finishes(&thread).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_being_run_is_not_resumed_by_another_process() {
    let mut stuck = stuck_in_the_implementor().await;
    let thread = stuck.run.as_ref().expect("the run").thread();
    let ws = stuck.scratch.ws_arg();
    let other = stuck
        .scratch
        .lemmings(["resume", &thread, "--workspace", &ws, "--config", &stuck.config])
        .run()
        .await;
    let line = other.usage_error();
    assert!(
        line.contains(&format!("thread {thread} is being run by another process")),
        "{other}"
    );
    assert_eq!(
        stuck.servers.primary_agents(),
        RUN_AGENTS[..3],
        "the second process called a model"
    );
    // Once the first is gone (killed: its lease is left behind), the thread resumes.
    let killed = stuck.stop(Stop::Kill).await;
    assert_eq!(killed.code, None, "{killed}");
    stuck.resume_finishes(&thread).await;
}
