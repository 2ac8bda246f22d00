//! Group commit for one kind of statement: concurrent callers of this process share one
//! round trip and one commit.
//!
//! One statement per call means one WAL flush per call; under load that, not the work,
//! caps a process at a few hundred calls per second on ordinary disks. A [`Batcher`] task
//! takes every call waiting (up to `max_batch`) and hands them to one batch function. At
//! most `in_flight` batches run at once, so batches form by themselves while earlier ones
//! commit, and a lone call on an idle queue runs at once, with no added delay.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::error::{QueueError, Result};

/// Waiting calls before callers are slowed down (back-pressure).
const CHANNEL_CAPACITY: usize = 8192;

type Pending<I, O> = (I, oneshot::Sender<Result<O>>);

/// Handle to a batching task; cheap to clone. The task stops when all handles drop.
pub(crate) struct Batcher<I, O> {
    tx: mpsc::Sender<Pending<I, O>>,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Batcher {
            tx: self.tx.clone(),
        }
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the task. `run` gets a batch of inputs and returns one result per input, in
    /// order (a short answer fails the missing callers with [`QueueError::Closed`]), or one
    /// error for the whole batch, which every caller in it then gets.
    pub(crate) fn spawn<F, Fut>(max_batch: usize, in_flight: usize, run: F) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Result<O>>>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        tokio::spawn(gather(rx, max_batch, in_flight, run));
        Batcher { tx }
    }

    /// Runs `input` in the next batch and returns its result.
    pub(crate) async fn call(&self, input: I) -> Result<O> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((input, reply))
            .await
            .map_err(|_| QueueError::Closed)?;
        answer.await.map_err(|_| QueueError::Closed)?
    }
}

async fn gather<I, O, F, Fut>(
    mut rx: mpsc::Receiver<Pending<I, O>>,
    max_batch: usize,
    in_flight: usize,
    run: F,
) where
    I: Send + 'static,
    O: Send + 'static,
    F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<Result<O>>>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(in_flight));
    while let Some(first) = rx.recv().await {
        // Wait for a free slot before draining, so the batch grows meanwhile.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let (inputs, replies): (Vec<I>, Vec<_>) = batch.into_iter().unzip();
        let answers = run(inputs);
        tokio::spawn(async move {
            // A caller may have given up (dropped its future); nothing to do then.
            match answers.await {
                Ok(answers) => {
                    let mut answers = answers.into_iter();
                    for reply in replies {
                        let _ = reply.send(answers.next().unwrap_or(Err(QueueError::Closed)));
                    }
                }
                Err(error) => {
                    for reply in replies {
                        let _ = reply.send(Err(error.clone()));
                    }
                }
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn concurrent_calls_share_batches_and_keep_their_answers() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let batcher = Batcher::spawn(64, 1, move |inputs: Vec<u32>| {
            seen.lock().unwrap().push(inputs.len());
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                Ok(inputs.into_iter().map(|i| Ok(i * 2)).collect())
            }
        });
        let answers = futures::future::join_all((0..200u32).map(|i| {
            let b = batcher.clone();
            async move { b.call(i).await.unwrap() }
        }))
        .await;
        assert_eq!(answers, (0..200).map(|i| i * 2).collect::<Vec<_>>());
        let sizes = sizes.lock().unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), 200);
        assert!(sizes.len() < 20, "200 calls took {} batches", sizes.len());
        assert!(sizes.iter().all(|&n| n <= 64));
    }
}
