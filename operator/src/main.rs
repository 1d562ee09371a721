//! `gharart-operator`: what operators do outside the HTTP API. It reads the same
//! environment variables as the functions (`TABLE_NAME`, `DYNAMODB_ENDPOINT`, `JWT_HS256_SECRET`),
//! so it works against DynamoDB Local or, with AWS credentials, a deployed stage's table.

use clap::{Parser, Subcommand};
use group_buy::app::dynamodb_client;
use group_buy::auth::DevClaims;
use group_buy::auth::pat::IssuedPat;
use group_buy::configuration::Settings;
use group_buy::domain::{Handle, Timestamp};
use group_buy::store::Store;
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
    /// Personal access tokens of a handle.
    #[command(subcommand)]
    Pat(PatCommand),
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
        /// Days until the token expires; without it, it never does.
        #[arg(long)]
        expires_in_days: Option<u32>,
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
    let client = dynamodb_client(&settings).await;
    let store = Store::new(client.clone(), &settings.table_name);
    match cli.command {
        Command::CreateTable => {
            group_buy::table::create(&client, &settings.table_name)
                .await
                .map_err(|e| format!("could not create {}: {e}", settings.table_name))?;
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
        Command::Pat(PatCommand::Create {
            handle,
            scopes,
            name,
            expires_in_days,
        }) => {
            let handle = Handle::parse(&handle).map_err(|e| format!("--handle {e}"))?;
            let expires_at = expires_in_days
                .map(|days| Timestamp::now().plus_millis(i64::from(days) * 86_400_000));
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
        Command::Pat(PatCommand::List { handle }) => {
            let handle = Handle::parse(&handle).map_err(|e| format!("--handle {e}"))?;
            let records = store.list_pats(&handle).await.map_err(|e| e.to_string())?;
            println!("id\tname\tscopes\tcreated\texpires\trevoked\tlast used");
            let shown = |t: Option<Timestamp>| t.map_or("-".to_owned(), |t| t.to_string());
            for r in records {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.id,
                    r.name,
                    r.scopes.join(" "),
                    r.created_at,
                    shown(r.expires_at),
                    shown(r.revoked_at),
                    shown(r.last_used_at)
                );
            }
        }
        Command::Pat(PatCommand::Revoke { id }) => {
            store
                .revoke_pat(&id, Timestamp::now())
                .await
                .map_err(|e| format!("could not revoke {id}: {e}"))?;
            println!("token {id} revoked");
        }
    }
    Ok(())
}
