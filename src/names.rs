//! The names every program agrees on, exactly as the original spells them.
//!
//! Any other Redis client can use these too: the web page pushes decimal text
//! (`"0"` to `"9"`) to the list in db 1, publishes the same to the channel,
//! and adds it to the stream as its `elem` field.

/// The list the producer pushes to and the consumer pops from
/// (the original's `prodcons_queue`).
pub const PRODCONS_QUEUE: &str = "task:prodcons:queue";

/// The channel the publisher publishes to and the subscriber listens on
/// (the original's `pubsub_channel`).
pub const PUBSUB_CHANNEL: &str = "task:pubsub:channel";

// The keys below are not in the original. Each holds the queue's name in
// braces, a Redis Cluster hash tag: they hash to the queue's own slot, so
// every command and script touches one slot, on one node (and names its
// keys, as managed clusters require).

/// Where `consumer --reliable` keeps the element it is working on, so that
/// a consumer killed half-way does not lose it: one list per consumer,
/// `{task:prodcons:queue}:processing:NAME`.
pub const PROCESSING_PREFIX: &str = "{task:prodcons:queue}:processing:";

/// A reliable consumer's sign of life, `{task:prodcons:queue}:consumer:NAME`:
/// a key that expires unless the consumer keeps renewing it.
pub const ALIVE_PREFIX: &str = "{task:prodcons:queue}:consumer:";

/// The names of the reliable consumers, a set: where a consumer looks for
/// lists whose owner died, without scanning the db.
pub const CONSUMERS: &str = "{task:prodcons:queue}:consumers";

/// The stream the web's `/stream` adds to and the stream consumers read
/// (the third lesson's; in the queue's slot, so one node holds it all).
pub const STREAM: &str = "{task:prodcons:queue}:stream";

/// Where a stream consumer puts an entry it cannot handle, with why.
pub const DEAD_LETTERS: &str = "{task:prodcons:queue}:stream:dead";

/// The stream consumers' group (a name inside the stream, not a key).
pub const GROUP: &str = "task:stream:group";
