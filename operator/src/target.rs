//! Which table the operator acts on. The target is always named on the command line
//! (`--local`, `--stage` or `--table` with `--region`): reading it from the environment let a
//! forgotten `STAGE` or `DYNAMODB_ENDPOINT` send a command to a table nobody meant. Before
//! acting, the operator prints the table, region and account it reached, the account
//! confirmed by STS for AWS targets.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use group_buy::aws::dynamodb_client;
use group_buy::configuration::Settings;
use std::time::Duration;

/// An SDK error and its causes on one line, without the debug dump of the raw response
/// that `DisplayErrorContext` appends.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_message = cause.to_string();
        // Service errors repeat their cause's message; say it once.
        if !message.contains(&cause_message) {
            message.push_str(": ");
            message.push_str(&cause_message);
        }
        source = cause.source();
    }
    message
}

/// A deployed stage, as `template.yaml` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Stage {
    Dev,
    Staging,
    Prod,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Staging => "staging",
            Self::Prod => "prod",
        }
    }

    /// The table `template.yaml` creates for the stage (`gharart-group-buys-${Stage}`).
    fn table(self) -> String {
        format!("gharart-group-buys-{}", self.as_str())
    }
}

/// The target flags, given before the subcommand; exactly one target is required.
#[derive(clap::Args, Debug, Default)]
pub struct TargetArgs {
    /// DynamoDB Local at $DYNAMODB_ENDPOINT (default http://127.0.0.1:8000), table $TABLE_NAME
    /// (default gharart-group-buys-local), with the dev secrets.
    #[arg(long)]
    pub local: bool,
    /// A deployed stage: table gharart-group-buys-<STAGE>, region from --region or the AWS
    /// chain (AWS_REGION, profile), credentials from the AWS credential chain.
    #[arg(long, value_enum, value_name = "STAGE")]
    pub stage: Option<Stage>,
    /// Any table by name, in the region given by --region (required with it).
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// The AWS region of --stage or --table.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

const CHOOSE: &str = "choose the target before the subcommand: --local (DynamoDB Local), \
     --stage <dev|staging|prod>, or --table <name> --region <region>";

/// Where the operator will act, decided from the flags alone, before any call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Local,
    Aws {
        table: String,
        /// `None`: resolved by the AWS chain when connecting, refused if it finds none.
        region: Option<String>,
    },
}

impl TargetArgs {
    pub fn resolve(self) -> Result<Target, String> {
        let chosen = [self.local, self.stage.is_some(), self.table.is_some()]
            .into_iter()
            .filter(|&chosen| chosen)
            .count();
        if chosen == 0 {
            return Err(format!("no target: {CHOOSE}"));
        }
        if chosen > 1 {
            return Err(format!("more than one target: {CHOOSE}"));
        }
        let region = self.region.filter(|r| !r.trim().is_empty());
        match (self.local, self.stage, self.table) {
            (true, _, _) if region.is_some() => {
                Err("--region does not apply to --local (DynamoDB Local)".into())
            }
            (true, _, _) => Ok(Target::Local),
            (_, Some(stage), _) => Ok(Target::Aws {
                table: stage.table(),
                region,
            }),
            (_, _, Some(table)) if table.trim().is_empty() => {
                Err("--table needs a table name".into())
            }
            (_, _, Some(table)) => match region {
                Some(region) => Ok(Target::Aws {
                    table,
                    region: Some(region),
                }),
                None => Err(format!(
                    "--table {table} needs --region: a table is only named within its region"
                )),
            },
            (false, None, None) => Err(format!("no target: {CHOOSE}")),
        }
    }
}

/// A target reached: its client and table, and the dev settings of `--local`.
pub struct Connected {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
    /// `Some` for `--local` only: deployed stages' secrets are not the operator's to hold.
    pub local_settings: Option<Settings>,
    /// `Some` for AWS targets: what the other clients of the stage are built from.
    pub aws: Option<aws_config::SdkConfig>,
    /// The one line printed before acting: table, region, account.
    pub description: String,
}

impl Target {
    pub fn is_local(&self) -> bool {
        matches!(self, Self::Local)
    }

    /// Builds the client and, for AWS targets, confirms the account with STS; fails (before
    /// any DynamoDB call) when no region or no working credentials can be found.
    pub async fn connect(self) -> Result<Connected, String> {
        match self {
            Self::Local => connect_local().await,
            Self::Aws { table, region } => connect_aws(table, region).await,
        }
    }
}

async fn connect_local() -> Result<Connected, String> {
    // The local defaults of `Settings` apply only without STAGE; a STAGE left in the shell
    // must not turn `--local` into a half-deployed configuration.
    let settings = Settings::from_lookup(|name| {
        if name == "STAGE" {
            return None;
        }
        std::env::var(name).ok().filter(|v| !v.is_empty())
    })
    .map_err(|e| format!("the local settings in the environment: {e}"))?;
    let client = dynamodb_client(&settings).await;
    let endpoint = settings.dynamodb_endpoint.clone().unwrap_or_default();
    let region = client
        .config()
        .region()
        .map_or_else(|| "-".to_owned(), ToString::to_string);
    let table = settings.table_name.clone();
    Ok(Connected {
        client,
        description: format!(
            "target table={table} region={region} account=local (DynamoDB Local at {endpoint})"
        ),
        table,
        local_settings: Some(settings),
        aws: None,
    })
}

async fn connect_aws(table: String, region: Option<String>) -> Result<Connected, String> {
    for ignored in ["DYNAMODB_ENDPOINT", "TABLE_NAME"] {
        if std::env::var_os(ignored).is_some() {
            eprintln!("gharart-operator: ignoring {ignored}: only --local reads it");
        }
    }
    // More patient than a function behind API Gateway (the operator has a human waiting,
    // not a 30 s gateway), but still bounded so that a wrong network fails in seconds.
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        // The functions' HTTPS client: aws-config's default would add a second TLS stack.
        .http_client(group_buy::https::system_roots_client().map_err(|e| e.to_string())?)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        );
    if let Some(region) = region {
        loader = loader.region(Region::new(region));
    }
    let config = loader.load().await;
    let region = config
        .region()
        .map(ToString::to_string)
        .ok_or("no AWS region: pass --region, or set AWS_REGION or a region in your AWS profile")?;
    let identity = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            format!(
                "could not confirm the AWS account (STS GetCallerIdentity in {region}): {}; \
                 check the credentials (AWS_PROFILE, aws sso login, AWS_ACCESS_KEY_ID)",
                error_chain(&e)
            )
        })?;
    let account = identity.account().unwrap_or("-");
    let arn = identity.arn().unwrap_or("-");
    let mut description = format!("target table={table} region={region} account={account} ({arn})");
    // An endpoint override of the AWS chain would send "prod" somewhere else: say so.
    for name in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"] {
        if let Ok(endpoint) = std::env::var(name) {
            description.push_str(&format!(" endpoint={endpoint} (from {name})"));
            break;
        }
    }
    Ok(Connected {
        client: aws_sdk_dynamodb::Client::new(&config),
        table,
        local_settings: None,
        description,
        aws: Some(config),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(
        local: bool,
        stage: Option<Stage>,
        table: Option<&str>,
        region: Option<&str>,
    ) -> TargetArgs {
        TargetArgs {
            local,
            stage,
            table: table.map(str::to_owned),
            region: region.map(str::to_owned),
        }
    }

    #[test]
    fn exactly_one_target_is_accepted() {
        assert_eq!(args(true, None, None, None).resolve(), Ok(Target::Local));
        assert_eq!(
            args(false, Some(Stage::Prod), None, None).resolve(),
            Ok(Target::Aws {
                table: "gharart-group-buys-prod".into(),
                region: None
            })
        );
        assert_eq!(
            args(false, Some(Stage::Dev), None, Some("ap-south-1")).resolve(),
            Ok(Target::Aws {
                table: "gharart-group-buys-dev".into(),
                region: Some("ap-south-1".into())
            })
        );
        assert_eq!(
            args(false, None, Some("t"), Some("eu-west-1")).resolve(),
            Ok(Target::Aws {
                table: "t".into(),
                region: Some("eu-west-1".into())
            })
        );
    }

    #[test]
    fn missing_ambiguous_or_incomplete_targets_are_refused() {
        let refused = [
            args(false, None, None, None),
            args(false, None, None, Some("eu-west-1")),
            args(true, Some(Stage::Dev), None, None),
            args(true, None, Some("t"), Some("eu-west-1")),
            args(false, Some(Stage::Prod), Some("t"), Some("eu-west-1")),
            args(false, None, Some("t"), None),
            args(false, None, Some(" "), Some("eu-west-1")),
            args(true, None, None, Some("eu-west-1")),
        ];
        for refused in refused {
            let shown = format!("{refused:?}");
            assert!(refused.resolve().is_err(), "{shown} was accepted");
        }
    }
}
