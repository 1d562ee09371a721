//! The visitor's interest in one group-buy, as the interest and entry handlers decide on it:
//! who the visitor is in it (their pseudonym), its fixed terms, and the writes counted against
//! the visitor's daily limit. `public` adds the first-come rules, `entries` the draw's.

use crate::api::app::App;
use crate::api::call::{Call, Target, Written};
use crate::api::recent::Terms;
use crate::domain::daily_limit::{DailyLimit, INTEREST_WRITES};
use crate::domain::interest::public;
use crate::domain::{GroupBuy, Handle, Participation, Slug, Timestamp};
use crate::http::ApiError;
use crate::http::visitor::{Visitor, VisitorKind};
use crate::store::{Riders, StoreError};

/// The visitor's interest in one group-buy, as the handlers decide on it.
pub(super) struct InterestScope<'a> {
    pub(super) app: &'a App,
    pub(super) handle: &'a Handle,
    pub(super) slug: &'a Slug,
    pub(super) visitor: &'a Visitor,
    /// The visitor's pseudonym in this group-buy: what the interest item (and a draw entry,
    /// whose ticket it is) is keyed by.
    pub(super) participant: String,
}

impl<'a> InterestScope<'a> {
    pub(super) fn new(
        app: &'a App,
        target: &'a Target,
        visitor: &'a Visitor,
    ) -> Result<Self, ApiError> {
        let slug = target.slug()?;
        Ok(Self {
            app,
            handle: &target.handle,
            slug,
            visitor,
            participant: app.server_key.participant(
                target.handle.as_str(),
                slug.as_str(),
                &visitor.key,
            ),
        })
    }

    /// The group-buy's terms (who may take part, how places are given out). They never
    /// change after create, so what this instance once read decides (a read only the first
    /// time); a group-buy that is not public is 404, as the registration would answer.
    pub(super) async fn terms(&self) -> Result<Terms, ApiError> {
        if let Some(terms) = self.app.recent.terms(self.handle, self.slug) {
            return Ok(terms);
        }
        let found = self.app.store.get(self.handle, self.slug).await?;
        let gb = public(found.as_ref()).ok_or(ApiError::GroupBuyNotFound)?;
        self.app.recent.put(gb);
        Ok(Terms::of(gb))
    }

    /// Whether this visitor may register here: a visitor pass gets 403 `SIGN_IN_REQUIRED`
    /// on a group-buy open to signed-in users only.
    pub(super) fn admit(&self, terms: Terms) -> Result<(), ApiError> {
        match (self.visitor.kind, terms.participation) {
            (VisitorKind::Anonymous, Participation::SignedIn) => Err(ApiError::SignInRequired),
            _ => Ok(()),
        }
    }

    /// Runs `write` (one of this visitor's interest or waitlist writes), counted against the
    /// visitor's daily limit of interest writes.
    pub(super) async fn guarded<Fut>(
        &self,
        call: &mut Call<'_>,
        now: Timestamp,
        write: impl FnOnce(Riders) -> Fut,
    ) -> Result<Written, ApiError>
    where
        Fut: Future<Output = Result<(), StoreError>>,
    {
        let limit = DailyLimit::new(
            INTEREST_WRITES,
            self.visitor.key.clone(),
            call.app.settings.limits.daily_interest_writes_per_visitor,
            now,
        );
        call.guarded_write(Some(limit), None, write).await
    }

    /// The group-buy to answer with after this instance's write moved its counters by
    /// (`participants`, `units`): as last seen here and moved by the write, or, unseen, read
    /// now (the write is in what is read).
    pub(super) async fn shown(&self, participants: i64, units: i64) -> Result<GroupBuy, ApiError> {
        let recent = &self.app.recent;
        recent.count(self.handle, self.slug, participants, units);
        if let Some(gb) = recent.get(self.handle, self.slug) {
            return Ok(gb);
        }
        let gb = self
            .app
            .store
            .get(self.handle, self.slug)
            .await?
            .ok_or(ApiError::GroupBuyNotFound)?;
        recent.put(&gb);
        Ok(gb)
    }
}
