//! The RabbitMQ topology of the whole system, declared in one place: the services' event
//! exchanges, Cortex's job queue with its retry and dead-letter queues, the submissions queue
//! hive-service sends jobs to, and hive-service's queue of Cortex's events. Each process
//! declares what it uses ([`crate::messaging::Broker::declare`]) again on every reconnection.
//!
//! Queue arguments are part of a queue's identity: RabbitMQ refuses to redeclare a durable
//! queue with other arguments, so those of the queues below never change.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

/// How long a message of a retry queue waits before it goes back to its queue, ms.
pub const RETRY_DELAY_MS: i64 = 5_000;

/// What one process declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    /// Durable topic exchanges.
    pub exchanges: Vec<String>,
    /// Durable queues.
    pub queues: Vec<QueueSpec>,
    /// Bindings: queue, exchange, routing key.
    pub bindings: Vec<(String, String, String)>,
}

/// A durable queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// Its name.
    pub name: String,
    /// Where rejected messages go (through the default exchange), if anywhere.
    pub dead_letter_to: Option<String>,
    /// A retry queue: messages wait this long, then go to `dead_letter_to`.
    pub ttl_ms: Option<i64>,
}

impl QueueSpec {
    /// A plain durable queue.
    pub fn plain(name: &str) -> QueueSpec {
        QueueSpec {
            name: name.to_string(),
            dead_letter_to: None,
            ttl_ms: None,
        }
    }

    fn arguments(&self) -> FieldTable {
        let mut args = FieldTable::default();
        if let Some(to) = &self.dead_letter_to {
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString("".into()),
            );
            args.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString(to.as_str().into()),
            );
        }
        if let Some(ttl) = self.ttl_ms {
            args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
        }
        args
    }
}

/// A work queue with its retry queue (`<name>.retry`, back to the queue after
/// [`RETRY_DELAY_MS`]) and its dead-letter queue (`<name>.dead`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkQueue {
    /// The queue consumers take from.
    pub name: String,
    /// Where a message waits before it is tried again.
    pub retry: String,
    /// Where a message that cannot be handled ends.
    pub dead: String,
}

impl WorkQueue {
    /// The three queues of `name`.
    pub fn new(name: &str) -> WorkQueue {
        WorkQueue {
            name: name.to_string(),
            retry: format!("{name}.retry"),
            dead: format!("{name}.dead"),
        }
    }
}

impl Topology {
    /// A service's own event exchange.
    pub fn events_exchange(mut self, exchange: &str) -> Topology {
        self.exchanges.push(exchange.to_string());
        self
    }

    /// A work queue with its retry and dead-letter queues (Cortex's job queue).
    pub fn work_queue(mut self, q: &WorkQueue) -> Topology {
        self.queues.push(QueueSpec::plain(&q.dead));
        self.queues.push(QueueSpec {
            name: q.name.clone(),
            dead_letter_to: Some(q.dead.clone()),
            ttl_ms: None,
        });
        self.queues.push(QueueSpec {
            name: q.retry.clone(),
            dead_letter_to: Some(q.name.clone()),
            ttl_ms: Some(RETRY_DELAY_MS),
        });
        self
    }

    /// A plain durable queue (the submissions queue: declared by both sides, so that
    /// submissions wait in it whichever service started first).
    pub fn queue(mut self, name: &str) -> Topology {
        self.queues.push(QueueSpec::plain(name));
        self
    }

    /// A durable queue receiving `keys` of another service's event `exchange` (declared
    /// too, so that the binding holds whichever service started first).
    pub fn subscription(mut self, queue: &str, exchange: &str, keys: &[&str]) -> Topology {
        self.exchanges.push(exchange.to_string());
        self.queues.push(QueueSpec::plain(queue));
        for k in keys {
            self.bindings
                .push((queue.to_string(), exchange.to_string(), (*k).to_string()));
        }
        self
    }

    /// Both topologies.
    pub fn merge(mut self, other: &Topology) -> Topology {
        for e in &other.exchanges {
            if !self.exchanges.contains(e) {
                self.exchanges.push(e.clone());
            }
        }
        for q in &other.queues {
            if !self.queues.contains(q) {
                self.queues.push(q.clone());
            }
        }
        for b in &other.bindings {
            if !self.bindings.contains(b) {
                self.bindings.push(b.clone());
            }
        }
        self
    }

    /// Declares everything on `ch`.
    pub async fn declare(&self, ch: &Channel) -> Result<(), String> {
        for e in &self.exchanges {
            ch.exchange_declare(
                e.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|err| format!("cannot declare exchange {e}: {err}"))?;
        }
        for q in &self.queues {
            ch.queue_declare(
                q.name.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                q.arguments(),
            )
            .await
            .map_err(|err| format!("cannot declare queue {}: {err}", q.name))?;
        }
        for (queue, exchange, key) in &self.bindings {
            ch.queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|err| format!("cannot bind {queue} to {exchange} ({key}): {err}"))?;
        }
        Ok(())
    }
}

/// hive-service's part: its event exchange, the submissions queue it sends jobs to, and
/// its queue of Cortex's job events.
pub fn hive(events_exchange: &str, submissions: &str, cortex_events_queue: &str) -> Topology {
    use shared_models::cortex::{MessageKind, EVENTS_EXCHANGE};
    Topology::default()
        .events_exchange(events_exchange)
        .queue(submissions)
        .subscription(
            cortex_events_queue,
            EVENTS_EXCHANGE,
            MessageKind::EVENT_BINDINGS,
        )
}

/// cortex-service's part: its event exchange, the job queue with its retry and dead-letter
/// queues, and the submissions queue it takes run requests from.
pub fn cortex(jobs: &WorkQueue, submissions: &str) -> Topology {
    Topology::default()
        .events_exchange(shared_models::cortex::EVENTS_EXCHANGE)
        .work_queue(jobs)
        .queue(submissions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_work_queue_dead_letters_and_retries_through_its_siblings() {
        let t = Topology::default().work_queue(&WorkQueue::new("cortex.jobs"));
        let names: Vec<&str> = t.queues.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(
            names,
            ["cortex.jobs.dead", "cortex.jobs", "cortex.jobs.retry"]
        );
        assert_eq!(
            t.queues[1].dead_letter_to.as_deref(),
            Some("cortex.jobs.dead")
        );
        assert_eq!(t.queues[2].dead_letter_to.as_deref(), Some("cortex.jobs"));
        assert_eq!(t.queues[2].ttl_ms, Some(RETRY_DELAY_MS));
        let merged = t.clone().merge(&t);
        assert_eq!(merged, t, "merging twice declares nothing twice");
    }
}
