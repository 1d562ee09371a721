//! `gharart-operator`: what operators do outside the HTTP API. It reads the same
//! environment variables as the functions (`TABLE_NAME`, `DYNAMODB_ENDPOINT`, `JWT_HS256_SECRET`).

use clap::{Parser, Subcommand};
use group_buy::app::dynamodb_client;
use group_buy::auth::DevClaims;
use group_buy::configuration::Settings;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gharart-operator",
    about = "Operate the Gharart group-buy service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the DynamoDB table named by TABLE_NAME (no-op when it exists).
    CreateTable,
    /// Mint an HS256 JWT with JWT_HS256_SECRET, for local and test stages only.
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
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    match cli.command {
        Command::CreateTable => {
            let client = dynamodb_client(&settings).await;
            group_buy::table::create(&client, &settings.table_name)
                .await
                .map_err(|e| {
                    format!(
                        "could not create {}: {}",
                        settings.table_name,
                        aws_error(&e)
                    )
                })?;
            println!("table {} is ready", settings.table_name);
        }
        Command::MintJwt {
            sub,
            handles,
            scope,
            roles,
            ttl,
        } => {
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
    }
    Ok(())
}

fn aws_error(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}
