//! The one decide-and-write loop of the service: owner transitions, deadline extensions and
//! the scheduled expiry all read a group-buy, decide with the pure rules (`domain`), and write
//! on condition that the group-buy is still the one read. A write refused because another
//! write came first is no error: the loop reads, and decides, again.

use std::future::Future;

/// What the rules decided on the state read.
pub enum Decided<W, S> {
    /// Write this, on condition that the state is still the one read.
    Write(W),
    /// Nothing that can lose a race is written: the loop ends here with this.
    Settled(S),
}

/// How a conditional write ended.
pub enum WriteOutcome<T> {
    Done(T),
    /// Another write changed the state since it was read: decide again.
    LostRace,
}

/// How the loop ended.
pub enum Ended<T, S> {
    Written(T),
    Settled(S),
}

/// Still losing races after every attempt. Each loss means another write was applied, so a
/// handful of attempts always suffices in practice.
#[derive(Debug, thiserror::Error)]
#[error("the group-buy kept changing: still contended after {0} attempts")]
pub struct Contended(pub usize);

/// One kind of change run by the loop: how to read, decide and write it.
pub trait DecideAndWrite {
    /// What is read and decided on.
    type State;
    /// What the rules decided to write.
    type Plan;
    /// What a done write gives.
    type Done;
    /// What a decision that writes nothing (or nothing that can lose a race) gives.
    type Settled;
    type Error: From<Contended>;

    fn read(&mut self) -> impl Future<Output = Result<Self::State, Self::Error>> + Send;

    fn decide(
        &mut self,
        state: Self::State,
    ) -> Result<Decided<Self::Plan, Self::Settled>, Self::Error>;

    fn write(
        &mut self,
        plan: Self::Plan,
    ) -> impl Future<Output = Result<WriteOutcome<Self::Done>, Self::Error>> + Send;
}

/// Reads, decides and writes until a write is done or the decision settles, at most
/// `attempts` times.
pub async fn decide_and_write<C: DecideAndWrite>(
    attempts: usize,
    change: &mut C,
) -> Result<Ended<C::Done, C::Settled>, C::Error> {
    for _ in 0..attempts {
        let state = change.read().await?;
        match change.decide(state)? {
            Decided::Settled(settled) => return Ok(Ended::Settled(settled)),
            Decided::Write(plan) => match change.write(plan).await? {
                WriteOutcome::Done(done) => return Ok(Ended::Written(done)),
                WriteOutcome::LostRace => continue,
            },
        }
    }
    Err(Contended(attempts).into())
}
