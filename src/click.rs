//! What a click does with Redis, once the route has said which command: a
//! push (`/prodcons`) that, with replicas, is a 302 only once one of them
//! has it; a publish (`/pubsub`), which keeps nothing to confirm. Either
//! runs once on the web worker's connection, by the click's deadline, and
//! a failure becomes [`Reply::Failed`].

use redis::RedisResult;

use crate::connection::Connection;
use crate::http::Reply;

/// Runs `push` on `rcon`. With Sentinel it then waits, within the click's
/// 2 s, until a replica has it (`WAIT 1`,
/// [`Connection::confirm_on_a_replica`]): a 302 then means the element is on
/// two machines; none in time is [`Reply::NotOnAReplica`] (202).
pub fn push_and_confirm(
    rcon: &mut Connection,
    push: impl FnMut(&mut redis::Connection) -> RedisResult<Reply>,
) -> Reply {
    match rcon.run(push) {
        Ok(reply) => match rcon.confirm_on_a_replica() {
            None | Some(1..) => reply,
            Some(0) => {
                let node = rcon.node().unwrap_or("(connection lost)").to_owned();
                Reply::NotOnAReplica(node)
            }
        },
        Err(failure) => Reply::Failed(failure),
    }
}

/// Runs `publish` on `rcon`. Pub/sub keeps nothing, so there is nothing
/// for a replica to confirm.
pub fn publish(
    rcon: &mut Connection,
    publish: impl FnMut(&mut redis::Connection) -> RedisResult<Reply>,
) -> Reply {
    rcon.run(publish).unwrap_or_else(Reply::Failed)
}
