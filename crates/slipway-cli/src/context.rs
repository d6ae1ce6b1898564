//! What every command gets: settings, printer, CI outputs, the state file — and the step
//! protocol: run, record the outcome in the state's step log, publish outputs and summary.

use std::path::PathBuf;

use chrono::Utc;
use slipway_ci::{Annotation, Ci, Env, Level};
use slipway_state::{StateFile, Step, StepOutcome, StepRecord};
use slipway_types::ExitClass;

use crate::error::Failure;
use crate::printer::Printer;
use crate::settings::GlobalSettings;

/// Everything a command needs.
#[derive(Debug, Clone)]
pub struct Context {
    /// Resolved global settings.
    pub settings: GlobalSettings,
    /// Output.
    pub printer: Printer,
    /// CI outputs.
    pub ci: Ci,
    /// The environment snapshot.
    pub env: Env,
    /// Working directory.
    pub cwd: PathBuf,
    /// Run metadata, read once (it may run git).
    pub run: std::sync::OnceLock<slipway_state::RunInfo>,
}

/// What a step reports when it succeeds.
#[derive(Debug, Clone, Default)]
pub struct StepReport {
    /// One line for the step log and stderr.
    pub summary: String,
    /// CI outputs (name, value).
    pub outputs: Vec<(String, String)>,
    /// Markdown for the CI job summary.
    pub markdown: Option<String>,
    /// Data for stdout in human mode.
    pub human: Option<String>,
    /// Data for stdout in JSON mode.
    pub json: Option<serde_json::Value>,
}

impl Context {
    /// Run metadata from the CI environment or the git checkout, computed on first use.
    pub fn run_info(&self) -> &slipway_state::RunInfo {
        self.run
            .get_or_init(|| slipway_ci::run_info(&self.env, &self.cwd))
    }

    /// The state file.
    pub fn state_file(&self) -> StateFile {
        StateFile::new(&self.settings.state)
    }

    /// Progress reporting for library calls: bars on a terminal, lines otherwise.
    pub fn progress(&self) -> crate::progress::ConsoleProgress {
        crate::progress::ConsoleProgress::new(self.settings.progress, &self.printer)
    }

    /// Registers a secret learnt at run time; on GitHub also tells the runner to mask it.
    pub fn mask(&self, secret: &str) {
        if let Some(cmd) = self.ci.mask(secret) {
            self.printer.ci_command(&cmd);
        }
    }

    /// Prints an annotation (a workflow command on GitHub).
    pub fn annotate(&self, a: &Annotation) {
        let line = self.ci.annotation_line(a);
        if self.ci.kind() == slipway_ci::CiKind::Github {
            self.printer.ci_command(&line);
        } else if a.level == Level::Error {
            // Errors are printed by the failure renderer already.
        } else {
            self.printer.warn(&line);
        }
    }

    /// Appends markdown to the CI job summary now (for a step that fails but still has
    /// something to show, like a failed gate).
    pub fn publish_markdown(&self, markdown: &str) {
        if let Err(e) = self.ci.append_summary(markdown) {
            self.printer
                .warn(&format!("cannot write the job summary: {e}"));
        }
    }

    /// Publishes outputs, warning about any that CI cannot carry.
    pub fn publish(&self, outputs: &[(String, String)]) -> Result<(), Failure> {
        for (name, value) in outputs {
            let warning = self.ci.set_output(name, value).map_err(|e| {
                Failure::wrap(ExitClass::Usage, e)
                    .with_hint("check the CI output file paths and permissions")
            })?;
            if let Some(w) = warning {
                self.printer.warn(&w);
            }
        }
        Ok(())
    }

    /// Runs `f` as `step`: records the outcome in the step log of `state` (with the run's
    /// metadata), then publishes outputs and summary and prints the data.
    pub fn run_step(
        &self,
        step: Step,
        state: &StateFile,
        f: impl FnOnce(&Context) -> Result<StepReport, Failure>,
    ) -> Result<(), Failure> {
        let started = Utc::now();
        let result = f(self);
        let finished = Utc::now();
        let (outcome, summary) = match &result {
            Ok(r) => (StepOutcome::Ok, r.summary.clone()),
            Err(e) if e.class == ExitClass::Denied => (StepOutcome::Denied, e.chain().join(": ")),
            Err(e) => (StepOutcome::Failed, e.chain().join(": ")),
        };
        let run = self.run_info().clone();
        let record = StepRecord {
            step,
            outcome,
            started,
            finished,
            version: slipway_state::writer_id(),
            job: run.job.clone(),
            summary: Some(self.printer.redactor().redact(&summary).into_owned()),
        };
        let recorded = state.update(|s| {
            if s.run.is_none() {
                s.run = Some(run);
            }
            s.steps.push(record);
        });
        let report = match (result, recorded) {
            (Err(e), _) => {
                if self.ci.kind() == slipway_ci::CiKind::Github {
                    let a = Annotation {
                        title: Some(format!("slipway {}", step.name())),
                        ..Annotation::new(Level::Error, e.chain().join(": "))
                    };
                    self.annotate(&a);
                }
                return Err(e);
            }
            (Ok(_), Err(e)) => return Err(e.into()),
            (Ok(r), Ok(())) => r,
        };
        self.publish(&report.outputs)?;
        if let Some(md) = &report.markdown {
            self.ci
                .append_summary(md)
                .map_err(|e| Failure::wrap(ExitClass::Usage, e))?;
        }
        if self.settings.json() {
            if let Some(j) = &report.json {
                self.printer.json(j);
            }
        } else if let Some(h) = &report.human {
            self.printer.data(h);
        }
        self.printer.info(&report.summary);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::Captured;
    use crate::settings::GlobalSettings;

    use slipway_ci::Redactor;

    fn github_context(dir: &std::path::Path) -> (Context, Captured, Captured) {
        let env = Env::from_pairs(
            [
                ("GITHUB_ACTIONS", "true".to_owned()),
                ("GITHUB_OUTPUT", dir.join("out").display().to_string()),
                (
                    "GITHUB_STEP_SUMMARY",
                    dir.join("summary").display().to_string(),
                ),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        let redactor = Redactor::default();
        let (out, err) = (Captured::default(), Captured::default());
        let printer = Printer::new(
            Box::new(out.clone()),
            Box::new(err.clone()),
            false,
            1,
            redactor.clone(),
        );
        let settings =
            GlobalSettings::resolve(&crate::args::GlobalArgs::default(), &env, dir).unwrap();
        let ci = Ci::from_env(&env, None, &settings.state_dir(), redactor);
        let ctx = Context {
            settings,
            printer,
            ci,
            env,
            cwd: dir.to_path_buf(),
            run: Default::default(),
        };
        (ctx, out, err)
    }

    /// What the GitHub runner shows in the job log: it consumes `::add-mask::` commands (they
    /// never appear) and replaces every masked value in later lines with `***`.
    fn runner_log_view(raw: &str) -> (Vec<String>, Vec<String>) {
        let mut masks = Vec::new();
        let mut shown = Vec::new();
        for line in raw.lines() {
            if let Some(v) = line.strip_prefix("::add-mask::") {
                masks.push(v.to_owned());
                continue;
            }
            shown.push(line.to_owned());
        }
        (masks, shown)
    }

    #[test]
    fn masked_values_never_reach_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, out, err) = github_context(dir.path());
        let token = "ghs_runtimeTokenValue123";
        // A token learnt at run time (e.g. a registry bearer token) goes through the masking API…
        ctx.mask(token);
        // …and then every way Slipway prints tries to show it.
        ctx.printer.info(&format!("got token {token}"));
        ctx.printer
            .detail(&format!("Authorization: Bearer {token}"));
        ctx.printer.warn(&format!("retrying with {token}"));
        ctx.printer.data(&format!("value={token}"));
        ctx.annotate(&Annotation::new(
            Level::Warning,
            format!("token {token} expires soon"),
        ));
        ctx.printer.failure(
            &Failure::external(format!("registry refused {token}"))
                .with_hint(format!("rotate {token}")),
        );
        ctx.ci
            .append_summary(&format!("| token | {token} |"))
            .unwrap();
        tracing::subscriber::with_default(
            tracing_subscriber::fmt()
                .with_writer(ctx.printer.log_writer())
                .finish(),
            || tracing::info!("log line with {token}"),
        );

        // stdout never carries it.
        assert!(!out.text().contains(token), "stdout: {}", out.text());
        assert_eq!(out.text(), "value=***\n");
        // stderr carries it only inside the mask command, which comes first and which the
        // runner consumes without showing it.
        let (masks, shown) = runner_log_view(&err.text());
        assert_eq!(masks, [token]);
        assert!(
            err.text().starts_with(&format!("::add-mask::{token}\n")),
            "the mask must be registered before anything else is printed"
        );
        for line in &shown {
            assert!(!line.contains(token), "leaked in: {line}");
        }
        assert!(shown.iter().any(|l| l == "got token ***"));
        assert!(
            shown
                .iter()
                .any(|l| l == "::warning::token *** expires soon")
        );
        assert!(shown.iter().any(|l| l.contains("log line with ***")));
        let summary = std::fs::read_to_string(dir.path().join("summary")).unwrap();
        assert_eq!(summary, "| token | *** |\n");
    }
}
