//! The resources a Lambda binary builds once per instance and every request of it shares.

use crate::api::recent::RecentGroupBuys;
use crate::auth::Authenticator;
use crate::aws::{self, ClientError};
use crate::configuration::{ConfigError, Settings};
use crate::http::cursor::CursorCodec;
use crate::http::visitor_pass::VisitorPasses;
use crate::keys::ServerKey;
use crate::store::Store;

pub struct App {
    pub settings: Settings,
    pub store: Store,
    pub auth: Authenticator,
    pub server_key: ServerKey,
    pub cursors: CursorCodec,
    /// The keys of visitor challenges and passes.
    pub passes: VisitorPasses,
    /// Group-buys as this instance last saw them, for the answers of interest writes.
    pub recent: RecentGroupBuys,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Keys(#[from] crate::auth::jwt::KeyError),
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl App {
    pub async fn new(settings: Settings) -> Result<Self, InitError> {
        let store = Store::new(
            aws::function_dynamodb_client(settings.dynamodb_endpoint.as_deref())?,
            &settings.table_name,
        );
        let server_key = ServerKey::new(&settings.keys);
        Ok(Self {
            auth: Authenticator::new(&settings.jwt, settings.pat_cache_ttl, store.clone())?,
            store,
            cursors: CursorCodec::new(&server_key.cursor_keys()),
            passes: VisitorPasses::new(&settings.visitor_passes, &server_key),
            server_key,
            settings,
            recent: RecentGroupBuys::default(),
        })
    }
}
