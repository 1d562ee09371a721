//! `gharart-operator`: what operators do outside the HTTP API, against an explicit target:
//! `--local` (DynamoDB Local, dev secrets), `--stage <dev|staging|prod>`, or
//! `--table <name> --region <region>`. Exactly one is required, before the subcommand; the
//! tool prints the table, region and account it reached on stderr before it acts, and keeps
//! stdout for the result alone (scripts read it).

mod bench;
mod event_stream;
mod inspect;
mod replay;
mod schedule;
mod target;

use clap::{Parser, Subcommand};
use group_buy::auth::DevClaims;
use group_buy::auth::pat::IssuedPat;
use group_buy::domain::{Handle, Slug, Status, Timestamp};
use group_buy::keys::ServerKey;
use group_buy::store::Store;
use inspect::{GroupBuyReport, LimitSubject, ReportLookup};
use std::process::ExitCode;
use target::TargetArgs;

#[derive(Parser)]
#[command(
    name = "gharart-operator",
    about = "Operate the Gharart group-buy service",
    after_help = "Examples:\n  gharart-operator --local pat list --handle acme-decor\n  \
                  gharart-operator --stage prod --region ap-south-1 group-buy show --handle acme-decor --slug jute-rug\n  \
                  gharart-operator --table my-table --region eu-west-1 describe-table"
)]
struct Cli {
    #[command(flatten)]
    target: TargetArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the table of --local (no-op when it exists); deployed tables come from template.yaml.
    CreateTable,
    /// The table's status and indexes, and one timed read: is DynamoDB answering?
    DescribeTable,
    /// Mint an HS256 JWT with JWT_HS256_SECRET (the dev secret by default); --local only.
    MintJwt {
        #[arg(long, default_value = "dev-owner")]
        sub: String,
        /// A handle the subject manages; repeat for several.
        #[arg(long = "handle")]
        handles: Vec<String>,
        #[arg(long, default_value = "group-buys:read group-buys:write")]
        scope: String,
        /// A role such as platform-admin; repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 8 * 3600)]
        ttl: i64,
    },
    /// Personal access tokens of a handle.
    #[command(subcommand)]
    Pat(PatCommand),
    /// Group-buys as stored (read-only).
    #[command(subcommand)]
    GroupBuy(GroupBuyCommand),
    /// Daily write counters (see DAILY_WRITE_LIMIT_PER_HANDLE and friends).
    #[command(subcommand)]
    Limits(LimitsCommand),
    /// The scheduled expiry's work (read-only).
    #[command(subcommand)]
    Expiry(ExpiryCommand),
    /// Support reports sent with POST /v2/support/report (read-only).
    #[command(subcommand, visible_alias = "report")]
    Reports(ReportsCommand),
    /// The admin rollup's totals: group-buys by status, participants, units, thresholds met
    /// and stuck drafts, as one JSON object (read-only).
    Rollup {
        /// Drafts last updated longer ago than this count as stuck (STUCK_DRAFT_HOURS).
        #[arg(long, default_value_t = 24)]
        stuck_after_hours: u32,
    },
    /// The launch load test's ceiling: first registrations of fresh visitors on one published
    /// group-buy, each the store's own registration write (the transaction register-interest
    /// commits), --concurrency at a time; --local only, and it writes to the table.
    BenchRegistrations {
        /// The owner's handle.
        #[arg(long, value_parser = Handle::parse)]
        handle: Handle,
        /// The published group-buy's slug.
        #[arg(long, value_parser = Slug::parse)]
        slug: Slug,
        #[arg(long, default_value_t = 2000)]
        registrations: u32,
        /// Registrations in flight at once, each worker one after the other.
        #[arg(long, default_value_t = 200)]
        concurrency: u32,
        /// Entries in a draw campaign (before its draw) instead of first-come registrations.
        #[arg(long)]
        draw: bool,
        /// One JSON object (counts, errors, seconds, every latency) instead of the figures.
        #[arg(long)]
        json: bool,
    },
    /// One-off data migrations, each safe to run again.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Follow the table's stream and append its lifecycle events to the events file, as the
    /// group-buy-events function publishes them to EventBridge; --local only. Runs until
    /// stopped; safe to stop and start again (no event lost or written twice).
    EventStream {
        /// One JSON line per event: {"source", "detail-type", "detail"}.
        #[arg(long, env = "LOCAL_EVENTS_FILE", default_value = group_buy::events::DEFAULT_LOCAL_EVENTS_FILE)]
        events_file: std::path::PathBuf,
        /// Milliseconds between two reads of the stream.
        #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(10..=1000))]
        poll_ms: u64,
    },
    /// Deliver again the lifecycle events of stream batches that could not be delivered: on a
    /// stage, the batches its failure queue describes, onto its bus; with --local, those of
    /// the runner's failures file, into its events file. Derived again from the table's
    /// stream, so only while it holds them (24 hours); each batch is forgotten once replayed.
    ReplayFailedEvents {
        /// --local: the events file (its failures file is `<file>.failures.jsonl`).
        #[arg(long, env = "LOCAL_EVENTS_FILE", default_value = group_buy::events::DEFAULT_LOCAL_EVENTS_FILE)]
        events_file: std::path::PathBuf,
    },
    /// Run the scheduled work as the deployed schedule runs it (the expire-group-buys
    /// function's code: close what is due, give the closing-soon notices) every
    /// LOCAL_SCHEDULE_SECONDS; --local only. Runs until stopped.
    Schedule {
        /// Seconds between two runs (the deployed schedule: every minute).
        #[arg(long, env = "LOCAL_SCHEDULE_SECONDS", default_value_t = 60,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        every_seconds: u64,
    },
}

#[derive(Subcommand)]
enum PatCommand {
    /// Issue a token; its secret is printed once, here, and never stored.
    Create {
        #[arg(long)]
        handle: String,
        /// A scope; repeat for several.
        #[arg(long = "scope", default_values = ["group-buys:read", "group-buys:write"])]
        scopes: Vec<String>,
        /// What the token is for, e.g. "nightly sync".
        #[arg(long, default_value = "")]
        name: String,
        /// Days until the token expires (1 to 365): a leaked token stops working by itself.
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=365))]
        expires_in_days: u32,
    },
    /// List a handle's tokens (never their secrets).
    List {
        #[arg(long)]
        handle: String,
    },
    /// Revoke a token by id; honoured within PAT_CACHE_SECONDS.
    Revoke {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum GroupBuyCommand {
    /// One group-buy: status, counts (recounted from its interest records), deadline,
    /// version and its latest history entries.
    Show {
        /// The owner's handle.
        #[arg(long, value_parser = Handle::parse)]
        handle: Handle,
        /// The group-buy's slug.
        #[arg(long, value_parser = Slug::parse)]
        slug: Slug,
        /// How many of the latest history entries to show.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i32).range(1..=100))]
        history: i32,
        /// One JSON object instead of the text form.
        #[arg(long)]
        json: bool,
    },
    /// A handle's group-buys, newest first, drafts included.
    List {
        /// The owner's handle.
        #[arg(long, value_parser = Handle::parse)]
        handle: Handle,
        /// Only this status: draft, published, paused or closed.
        #[arg(long, value_parser = Status::parse)]
        status: Option<Status>,
        /// At most this many, newest first.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i32).range(1..=1000))]
        limit: i32,
    },
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct LimitSubjectArgs {
    /// A handle: its owner writes.
    #[arg(long, value_parser = Handle::parse)]
    handle: Option<Handle>,
    /// A caller key (the callerKey of a support report): its interest writes and reports.
    #[arg(long)]
    caller_key: Option<String>,
}

impl LimitSubjectArgs {
    fn subject(self) -> Result<LimitSubject, String> {
        match (self.handle, self.caller_key) {
            (Some(handle), None) => Ok(LimitSubject::Handle(handle)),
            (None, Some(key)) if !key.is_empty() => Ok(LimitSubject::CallerKey(key)),
            _ => Err("give --handle or --caller-key".into()),
        }
    }
}

#[derive(Subcommand)]
enum LimitsCommand {
    /// A day's counters (today, UTC, by default) and when they reset.
    Show {
        #[command(flatten)]
        subject: LimitSubjectArgs,
        /// The UTC day, YYYY-MM-DD (default today).
        #[arg(long, value_parser = inspect::parse_day)]
        day: Option<chrono::NaiveDate>,
    },
    /// Start today's counters again from zero (a one-day exemption; writes to the table).
    Reset {
        #[command(flatten)]
        subject: LimitSubjectArgs,
    },
}

#[derive(Subcommand)]
enum ExpiryCommand {
    /// Open group-buys past their deadline: what the next expire-group-buys run closes.
    Due,
}

#[derive(Subcommand)]
enum MigrateCommand {
    /// Remove from the public index the group-buys never published (drafts cancelled before
    /// publishing), which releases before this fix listed publicly.
    UnlistNeverPublished,
}

#[derive(Subcommand)]
enum ReportsCommand {
    /// Reports received since a day (default today, UTC), newest first.
    List {
        /// The first UTC day, YYYY-MM-DD (default today; at most 92 days back).
        #[arg(long, value_parser = inspect::parse_day)]
        since: Option<chrono::NaiveDate>,
        /// Only reports naming this handle.
        #[arg(long, value_parser = Handle::parse)]
        handle: Option<Handle>,
    },
    /// Reports in full, by report id, or by a request id (the report's own or the one it cites).
    #[command(group(clap::ArgGroup::new("lookup").required(true).args(["report_id", "request_id"])))]
    Show {
        /// The reportId the caller got back.
        #[arg(long)]
        report_id: Option<String>,
        /// A request id: the report's own, or the one it cites.
        #[arg(long)]
        request_id: Option<String>,
        /// With --request-id: the first day to look in (default 7 days back).
        #[arg(long, value_parser = inspect::parse_day, requires = "request_id")]
        since: Option<chrono::NaiveDate>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gharart-operator: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let target = cli.target.resolve()?;
    if !target.is_local() {
        // Refused before any call: neither has a meaning on a deployed stage.
        match &cli.command {
            Command::MintJwt { .. } => {
                return Err("mint-jwt works only with --local: deployed stages verify \
                     RS256/ES256 tokens against their JWKS (JwtJwks), not a shared secret"
                    .into());
            }
            Command::CreateTable => {
                return Err("create-table works only with --local: a deployed stage's \
                     table is created by template.yaml (sam deploy)"
                    .into());
            }
            Command::EventStream { .. } => {
                return Err("event-stream works only with --local: a deployed stage's \
                     events are published by its group-buy-events function"
                    .into());
            }
            Command::Schedule { .. } => {
                return Err("schedule works only with --local: a deployed stage's \
                     schedule runs its expire-group-buys function"
                    .into());
            }
            Command::BenchRegistrations { .. } => {
                return Err("bench-registrations works only with --local: it writes \
                     registrations of made-up visitors"
                    .into());
            }
            _ => {}
        }
    }
    let target = target.connect().await?;
    eprintln!("gharart-operator: {}", target.description);
    let (client, table) = (&target.client, target.table.as_str());
    let store = Store::new(target.client.clone(), table);
    match cli.command {
        Command::CreateTable => {
            group_buy::table::create(client, table)
                .await
                .map_err(|e| format!("could not create {table}: {e}"))?;
            println!("table {table} is ready");
        }
        Command::DescribeTable => inspect::describe_table(client, table).await?,
        Command::MintJwt {
            sub,
            handles,
            scope,
            roles,
            ttl,
        } => {
            let settings = target
                .local_settings
                .ok_or("mint-jwt works only with --local")?;
            let secret = settings
                .jwt
                .hs256_secret
                .ok_or("JWT_HS256_SECRET is not set; deployed stages use JWKS keys")?;
            let handles: Vec<&str> = handles.iter().map(String::as_str).collect();
            let mut claims = DevClaims::new(&sub, &handles, &scope, ttl);
            claims.roles = roles;
            claims.iss = settings.jwt.issuer;
            claims.aud = settings.jwt.audience;
            let token = claims
                .sign_hs256(secret.expose())
                .map_err(|e| e.to_string())?;
            println!("{token}");
        }
        Command::Pat(command) => pat(&store, command).await?,
        Command::GroupBuy(GroupBuyCommand::Show {
            handle,
            slug,
            history,
            json,
        }) => {
            let report =
                GroupBuyReport::read(client, table, &store, &handle, &slug, history).await?;
            if json {
                println!("{}", report.json());
            } else {
                report.print();
            }
        }
        Command::GroupBuy(GroupBuyCommand::List {
            handle,
            status,
            limit,
        }) => inspect::list_group_buys(&store, &handle, status, limit).await?,
        Command::Limits(LimitsCommand::Show { subject, day }) => {
            inspect::show_limits(client, table, &subject.subject()?, day).await?;
        }
        Command::Limits(LimitsCommand::Reset { subject }) => {
            inspect::reset_limits(client, table, &subject.subject()?).await?;
        }
        Command::Expiry(ExpiryCommand::Due) => inspect::due_for_expiry(&store).await?,
        Command::Rollup { stuck_after_hours } => {
            let stuck_before =
                Timestamp::now().plus_millis(-i64::from(stuck_after_hours) * 3_600_000);
            let summary = store
                .rollup_summary(stuck_before)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", serde_json::json!(summary));
        }
        Command::BenchRegistrations {
            handle,
            slug,
            registrations,
            concurrency,
            draw,
            json,
        } => {
            let settings = target
                .local_settings
                .as_ref()
                .ok_or("bench-registrations works only with --local")?;
            let load = bench::Load {
                handle,
                slug,
                registrations,
                concurrency,
                daily_limit: settings.limits.daily_interest_writes_per_visitor,
                server_key: ServerKey::new(&settings.keys),
                draw,
            };
            let outcome = bench::run(&store, load).await?;
            if json {
                println!("{}", serde_json::json!(outcome));
            } else {
                let (throughput, p50, p99, max) = outcome.figures();
                println!(
                    "{} of {registrations} committed in {:.1} s, {concurrency} at a time: \
                     {throughput:.0} registrations/s, p50 {p50:.0} ms, p99 {p99:.0} ms, \
                     max {max:.0} ms; {} threshold-edge retries, {} conflicts, {} unanswered \
                     and tried again ({} found written), errors {:?}",
                    outcome.committed,
                    outcome.seconds,
                    outcome.edge_retries,
                    outcome.conflicts,
                    outcome.unanswered,
                    outcome.found_written,
                    outcome.errors
                );
            }
        }
        Command::Migrate(MigrateCommand::UnlistNeverPublished) => {
            let unlisted = store
                .unlist_never_published()
                .await
                .map_err(|e| format!("migration stopped: {e}"))?;
            println!("unlisted {unlisted} never-published group-buys from the public index");
        }
        Command::EventStream {
            events_file,
            poll_ms,
        } => {
            let endpoint = target
                .local_settings
                .as_ref()
                .and_then(|s| s.dynamodb_endpoint.clone())
                .ok_or("event-stream works only with --local")?;
            event_stream::EventStream {
                streams: event_stream::local_streams_client(client, &endpoint),
                dynamodb: client.clone(),
                table: table.to_owned(),
                events_file,
                poll: std::time::Duration::from_millis(poll_ms),
            }
            .run()
            .await?;
        }
        Command::Schedule { every_seconds } => {
            schedule::run(&store, std::time::Duration::from_secs(every_seconds)).await;
        }
        Command::ReplayFailedEvents { events_file } => {
            let left = match (&target.aws, &target.local_settings) {
                (Some(aws), _) => {
                    // template.yaml names the stage's bus and queue after its table.
                    let streams = aws_sdk_dynamodbstreams::Client::new(aws);
                    let bus = group_buy::events::lambda::EventBus::new(
                        aws_sdk_eventbridge::Client::new(aws),
                        table,
                    );
                    let queue = format!("{table}-events-failures");
                    let sqs = aws_sdk_sqs::Client::new(aws);
                    replay::replay_queue(&streams, &sqs, &queue, &bus, &store).await?
                }
                (None, Some(settings)) => {
                    let endpoint = settings.dynamodb_endpoint.clone().unwrap_or_default();
                    let streams = event_stream::local_streams_client(client, &endpoint);
                    let events = event_stream::EventsFile::open(events_file.clone())?;
                    let failures = event_stream::failures_path(&events_file);
                    replay::replay_file(&streams, &failures, &events, &store).await?
                }
                (None, None) => return Err("no target to replay on".into()),
            };
            if left > 0 {
                return Err(format!("{left} batch(es) not replayed (above)"));
            }
        }
        Command::Reports(ReportsCommand::List { since, handle }) => {
            inspect::list_reports(client, table, since, handle.as_ref()).await?;
        }
        Command::Reports(ReportsCommand::Show {
            report_id,
            request_id,
            since,
        }) => {
            let lookup = match (report_id, request_id) {
                (Some(id), _) => ReportLookup::ReportId(id),
                (None, Some(id)) => {
                    ReportLookup::RequestId(id, since.unwrap_or_else(inspect::default_lookback))
                }
                (None, None) => return Err("give --report-id or --request-id".into()),
            };
            inspect::show_reports(client, table, &lookup).await?;
        }
    }
    Ok(())
}

async fn pat(store: &Store, command: PatCommand) -> Result<(), String> {
    match command {
        PatCommand::Create {
            handle,
            scopes,
            name,
            expires_in_days,
        } => {
            let handle = Handle::parse(&handle).map_err(|e| format!("--handle {e}"))?;
            let expires_at =
                Some(Timestamp::now().plus_millis(i64::from(expires_in_days) * 86_400_000));
            let issued = IssuedPat::new(handle, &name, scopes, expires_at)?;
            store
                .create_pat(&issued.record)
                .await
                .map_err(|e| format!("could not store the token: {e}"))?;
            eprintln!(
                "token {} for {} (scopes: {}); shown once, keep it now:",
                issued.record.id,
                issued.record.handle,
                issued.record.scopes.join(" ")
            );
            println!("{}", issued.token);
        }
        PatCommand::List { handle } => {
            let handle = Handle::parse(&handle).map_err(|e| format!("--handle {e}"))?;
            let records = store.list_pats(&handle).await.map_err(|e| e.to_string())?;
            println!("id\tname\tscopes\tcreated\texpires\trevoked\tlast used");
            let shown = |t: Option<Timestamp>| t.map_or("-".to_owned(), |t| t.to_string());
            for r in records {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.id,
                    inspect::printable(&r.name),
                    r.scopes.join(" "),
                    r.created_at,
                    shown(r.expires_at),
                    shown(r.revoked_at),
                    shown(r.last_used_at)
                );
            }
        }
        PatCommand::Revoke { id } => {
            store
                .revoke_pat(&id, Timestamp::now())
                .await
                .map_err(|e| format!("could not revoke {id}: {e}"))?;
            println!("token {id} revoked");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn target_flags_come_before_the_subcommand() {
        let parsed = Cli::try_parse_from([
            "gharart-operator",
            "--local",
            "pat",
            "list",
            "--handle",
            "acme",
        ]);
        assert!(parsed.is_ok());
        let after = Cli::try_parse_from([
            "gharart-operator",
            "pat",
            "list",
            "--handle",
            "acme",
            "--local",
        ]);
        assert!(after.is_err());
        let unknown_stage =
            Cli::try_parse_from(["gharart-operator", "--stage", "qa", "describe-table"]);
        assert!(unknown_stage.is_err());
    }
}
