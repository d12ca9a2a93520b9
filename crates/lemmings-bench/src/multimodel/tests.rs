//! The three layouts without latency (the servers answer at once; nothing sleeps): structural
//! facts only, no timing assertions.

use std::time::Duration;

use super::{Latencies, Layout, run_once};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_layout_completes_and_summarizer_work_leaves_the_primary_once_offloaded() {
    let latencies = Latencies {
        primary: Duration::ZERO,
        summarizer: Duration::ZERO,
        supervisor: Duration::ZERO,
    };
    let mut facts = Vec::new();
    for layout in Layout::ALL {
        let run = run_once(layout, 4, latencies)
            .await
            .unwrap_or_else(|error| panic!("{layout}: {error}"));
        facts.push((layout, run));
    }
    for (layout, run) in &facts {
        assert_eq!(
            run.primary_max_in_flight, 1,
            "{layout}: the primary served one request at a time"
        );
        assert!(
            run.summaries > 0,
            "{layout}: the long implementor conversation was summarized"
        );
        match layout {
            Layout::AllOnPrimary => {
                assert!(run.primary_summarization_requests > 0, "{layout}: {run:?}");
                assert_eq!(run.summarizer_requests, 0, "{layout}: {run:?}");
            }
            Layout::SummarizerOffloaded | Layout::OffloadedWithSupervisor => {
                assert_eq!(run.primary_summarization_requests, 0, "{layout}: {run:?}");
                assert!(run.summarizer_requests > 0, "{layout}: {run:?}");
            }
        }
        if *layout == Layout::OffloadedWithSupervisor {
            assert!(run.supervisor_requests > 0, "{layout}: {run:?}");
        } else {
            assert_eq!(run.supervisor_requests, 0, "{layout}: {run:?}");
        }
    }
    // The summarizer's work moved, the agents' did not: the primary serves the same agent
    // requests in every layout.
    let agent_requests: Vec<usize> = facts
        .iter()
        .map(|(_, run)| run.primary_requests - run.primary_summarization_requests)
        .collect();
    assert!(
        agent_requests.windows(2).all(|pair| pair[0] == pair[1]),
        "{agent_requests:?}"
    );
}
