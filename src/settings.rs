//! Where things are: the configuration file (`--config`, `$LEMMINGS_CONFIG`, `./config.toml`,
//! the built-in default), the workspace (`--workspace`, the current directory) and the database
//! (`--db`, `$LEMMINGS_DB`, `<workspace>/.lemmings/lemmings.db`); and the configuration read
//! whole, every section checked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lemmings_agents::spec::{AgentSpecs, AgentsConfig};
use lemmings_agents::workflow::settings::{RunSettings, check_sections};
use lemmings_graph::Checkpointer;
use lemmings_models::LlmConfig;
use lemmings_tools::ToolsConfig;

use crate::exit::usage;

/// The repository's `config.toml`, the documented default.
pub(crate) const BUILTIN_CONFIG: &str = include_str!("../config.toml");

/// The database beneath the workspace when neither `--db` nor `$LEMMINGS_DB` says otherwise.
pub(crate) const DEFAULT_DB: &str = ".lemmings/lemmings.db";

/// `--workspace` and `--db` as given.
#[derive(Clone, Debug, Default)]
pub(crate) struct PlaceArgs {
    pub(crate) workspace: Option<PathBuf>,
    pub(crate) db: Option<String>,
}

/// Where the configuration was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Flag,
    Env,
    CurrentDir,
    BuiltIn,
}

/// The configuration, every section parsed and checked.
#[derive(Debug)]
pub(crate) struct Config {
    /// The file, or `built-in default`, for messages.
    pub(crate) source: String,
    pub(crate) origin: Origin,
    pub(crate) llm: LlmConfig,
    pub(crate) tools: ToolsConfig,
    pub(crate) agents: AgentsConfig,
    pub(crate) specs: AgentSpecs,
    pub(crate) run: RunSettings,
}

impl Config {
    /// Finds and reads the configuration; every problem is a usage error naming the file, the
    /// line and the key.
    pub(crate) fn load(flag: Option<PathBuf>) -> anyhow::Result<Config> {
        let env = std::env::var_os("LEMMINGS_CONFIG").filter(|value| !value.is_empty());
        let (path, origin) = match (flag, env) {
            (Some(path), _) => (Some(path), Origin::Flag),
            (None, Some(path)) => (Some(PathBuf::from(path)), Origin::Env),
            (None, None) if Path::new("config.toml").is_file() => {
                (Some(PathBuf::from("config.toml")), Origin::CurrentDir)
            }
            (None, None) => (None, Origin::BuiltIn),
        };
        let (text, source, base) = match &path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| {
                    let how = match origin {
                        Origin::Env => " (from $LEMMINGS_CONFIG)",
                        _ => "",
                    };
                    usage(format!(
                        "cannot read the configuration {}{how}: {error}",
                        path.display()
                    ))
                })?;
                let base = path
                    .parent()
                    .filter(|parent| !parent.as_os_str().is_empty())
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                (text, path.display().to_string(), base)
            }
            None => (
                BUILTIN_CONFIG.to_owned(),
                "built-in default config.toml".to_owned(),
                PathBuf::from("."),
            ),
        };
        Config::parse(&text, &source, &base, origin, &|name| std::env::var(name).ok())
    }

    /// Parses a configuration's text.
    pub(crate) fn parse(
        text: &str,
        source: &str,
        base: &Path,
        origin: Origin,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Config> {
        check_sections(text, source).map_err(|error| usage(error.to_string()))?;
        let llm = LlmConfig::parse(text, source, env).map_err(|error| usage(error.to_string()))?;
        let tools = ToolsConfig::parse(text, source).map_err(|error| usage(error.to_string()))?;
        let agents = AgentsConfig::parse(text, source, base).map_err(|error| usage(error.to_string()))?;
        let specs = AgentSpecs::load(&agents).map_err(|error| usage(error.to_string()))?;
        let run = RunSettings::parse(text, source).map_err(|error| usage(error.to_string()))?;
        Ok(Config {
            source: source.to_owned(),
            origin,
            llm,
            tools,
            agents,
            specs,
            run,
        })
    }

    /// Where the configuration came from, for the run's header.
    pub(crate) fn describe(&self) -> String {
        match self.origin {
            Origin::Flag => format!("{} (--config)", self.source),
            Origin::Env => format!("{} ($LEMMINGS_CONFIG)", self.source),
            Origin::CurrentDir => format!("{} (current directory)", self.source),
            Origin::BuiltIn => self.source.clone(),
        }
    }
}

/// The workspace directory: `--workspace` or the current directory; it must exist.
pub(crate) fn workspace(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match flag {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().map_err(|error| {
            usage(format!(
                "cannot read the current directory: {error}; pass --workspace DIR"
            ))
        })?,
    };
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(usage(format!("workspace {} is not a directory", dir.display()))),
        Err(error) => {
            return Err(usage(format!(
                "workspace {} does not exist or cannot be read: {error}",
                dir.display()
            )));
        }
    }
    dir.canonicalize()
        .map_err(|error| usage(format!("cannot resolve workspace {}: {error}", dir.display())))
}

/// The database location: `--db`, `$LEMMINGS_DB`, or `.lemmings/lemmings.db` in the workspace.
pub(crate) fn database(flag: Option<&str>, workspace: &Path) -> String {
    if let Some(db) = flag.filter(|db| !db.is_empty()) {
        return db.to_owned();
    }
    if let Some(db) = std::env::var("LEMMINGS_DB").ok().filter(|db| !db.is_empty()) {
        return db;
    }
    workspace.join(DEFAULT_DB).display().to_string()
}

/// Opens the database; `create` makes a missing SQLite file. A missing file without `create`,
/// a damaged or read-only one, or an unreachable server is a usage error naming it (the file is
/// left untouched).
pub(crate) async fn open_store(location: &str, create: bool) -> anyhow::Result<Arc<dyn Checkpointer>> {
    if !create && !lemmings_store::is_url(location) && !Path::new(location).exists() {
        let from_env = std::env::var("LEMMINGS_DB").is_ok_and(|db| db == location);
        return Err(usage(format!(
            "no database at {location}{}: nothing has run here yet (pass --workspace or --db to look elsewhere)",
            if from_env { " (from $LEMMINGS_DB)" } else { "" }
        )));
    }
    lemmings_store::open(location, create)
        .await
        .map_err(|error| usage(format!("cannot open the database: {error}")))
}

/// The workspace and database of an inspection command.
pub(crate) async fn open_place(place: &PlaceArgs) -> anyhow::Result<(PathBuf, String, Arc<dyn Checkpointer>)> {
    let workspace = workspace(place.workspace.as_deref())?;
    let db = database(place.db.as_deref(), &workspace);
    let store = open_store(&db, false).await?;
    // Shown in messages: a PostgreSQL URL without its password.
    Ok((workspace, lemmings_store::shown(&db), store))
}

/// A thread id given on the command line: a UUID.
pub(crate) fn thread_id(text: &str) -> anyhow::Result<String> {
    let text = text.trim();
    uuid::Uuid::parse_str(text)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| {
            usage(format!(
                "`{text}` is not a thread id (a UUID): `lemmings threads` lists them"
            ))
        })
}

/// A checkpoint id given on the command line.
pub(crate) fn checkpoint_id(text: &str) -> anyhow::Result<lemmings_graph::CheckpointId> {
    text.trim().parse().map_err(|_| {
        usage(format!(
            "`{text}` is not a checkpoint id: `lemmings history <THREAD_ID>` lists them"
        ))
    })
}
