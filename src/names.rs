//! The names every program agrees on, exactly as the original spells them.
//!
//! Any other Redis client can use these too: the web page pushes decimal text
//! (`"0"` to `"9"`) to the list in db 1, and publishes the same to the channel.

/// The list the producer pushes to and the consumer pops from
/// (the original's `prodcons_queue`).
pub const PRODCONS_QUEUE: &str = "task:prodcons:queue";

/// The channel the publisher publishes to and the subscriber listens on
/// (the original's `pubsub_channel`).
pub const PUBSUB_CHANNEL: &str = "task:pubsub:channel";

/// Where `consumer --reliable` keeps the element it is working on, so that
/// a consumer killed half-way does not lose it (not in the original): one
/// list per consumer, `task:prodcons:processing:NAME`.
pub const PROCESSING_PREFIX: &str = "task:prodcons:processing:";

/// A reliable consumer's sign of life, `task:prodcons:consumer:NAME`: a key
/// that expires unless the consumer keeps renewing it.
pub const ALIVE_PREFIX: &str = "task:prodcons:consumer:";

/// The names of the reliable consumers, a set: where a consumer looks for
/// lists whose owner died, without scanning the db.
pub const CONSUMERS: &str = "task:prodcons:consumers";
