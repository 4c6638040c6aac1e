"""The router's event log on Apache Kafka, shaped like the Knative Kafka broker (specs/eventing.md).

- Each broker is the Kafka topic of the same name. The ingress produces the event in Kafka's
  binary content mode (`ce_*` headers, the data as the value, `content-type`), keyed by the
  `partitionkey` extension, with an idempotent producer (acks=all) and librdkafka's `fnv1a`
  partitioner, which puts a key on the same partition as daprd's sarama producer does. `append`
  returns only once Kafka has acknowledged the record, so the ingress answers 202 only then.
- Each Trigger is its own consumer group. Offsets are committed only after the delivery of a
  record has finished (acknowledged, replied, or dead-lettered), so records a crashed router had
  not finished are consumed again after a restart: at least once, absorbed by idempotent
  consumers.
- Order: each partition is delivered sequentially, partitions concurrently. A partition holds
  several users, and delivering its keys concurrently would need a commit position below the
  oldest unfinished record of any key; sequential delivery makes the committed offset simply the
  next record, and per-user order follows from the key -> partition mapping. This is the
  ordering of Knative's `delivery.order: ordered`. Unordered Triggers are delivered the same way
  (stronger than they need).
- A new consumer group starts at the end of its topic, as Knative's does (a Trigger sees events
  accepted after it exists), and that start is committed at once: a router killed before its
  first commit resumes there instead of skipping what arrived in between.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from cloudevents.conversion import to_binary
from cloudevents.exceptions import GenericException as CloudEventError
from cloudevents.http import CloudEvent, from_http
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from taskflow_dev.router.eventlog import PARTITION_KEY, DeliveryInterrupted, EventLogUnavailable
from taskflow_dev.router.eventlog import Consumer as EventConsumer

log = logging.getLogger(__name__)

# Below the outbox publisher's 5 s timeout, so a relay hears a clear 503 while Kafka is down.
PRODUCE_TIMEOUT_SECONDS = 4.0
KAFKA_CALL_TIMEOUT_SECONDS = 10.0
ASSIGNMENT_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.1
# A partition's records waiting in the router; beyond this its fetching pauses.
MAX_QUEUED_PER_PARTITION = 200
# A delivery that raised (its reply could not be produced while Kafka is down) is retried, as
# skipping it would lose the reply and move the committed offset past it.
RETRY_PAUSE_SECONDS = 1.0
MAX_RETRY_PAUSE_SECONDS = 30.0


def client_config(bootstrap: str) -> dict[str, object]:
    # A closed idle connection is routine; librdkafka's own messages go through Python logging.
    return {
        "bootstrap.servers": bootstrap,
        "log.connection.close": False,
        "logger": logging.getLogger("taskflow_dev.router.librdkafka"),
    }


def encode(event: CloudEvent) -> tuple[list[tuple[str, bytes]], bytes]:
    """Kafka binary content mode: the HTTP binary mode's `ce-x` headers become `ce_x`."""
    http_headers, body = to_binary(event)
    headers: list[tuple[str, bytes]] = []
    for name, value in http_headers.items():
        lowered = name.lower()
        if lowered.startswith("ce-"):
            headers.append((f"ce_{lowered[3:]}", str(value).encode()))
        elif lowered == "content-type":
            headers.append((lowered, str(value).encode()))
    return headers, body or b""


def decode(headers: list[tuple[str, bytes]] | None, value: bytes | None) -> CloudEvent:
    """A record in binary mode, or in structured mode (`application/cloudevents+json`)."""
    http_headers: dict[str, str] = {}
    for name, raw in headers or []:
        lowered = name.lower()
        text = raw.decode() if raw is not None else ""
        if lowered.startswith("ce_"):
            http_headers[f"ce-{lowered[3:]}"] = text
        elif lowered == "content-type":
            http_headers[lowered] = text
    return from_http(http_headers, value or b"")


class _EndOffsets:
    """The end offset of each (topic, partition) as far as this router knows: from the
    acknowledgements of its own produces (exact at once) and from its consumers' fetches (other
    producers' records, within a poll)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ends: dict[tuple[str, int], int] = {}

    def note(self, topic: str, partition: int, end: int) -> None:
        with self._lock:
            key = (topic, partition)
            self._ends[key] = max(end, self._ends.get(key, end))

    def of(self, topic: str, partition: int) -> int | None:
        with self._lock:
            return self._ends.get((topic, partition))


class _PartitionWorker:
    """Delivers one partition's records to one Trigger, one after the other."""

    def __init__(self, group: str, partition: TopicPartition, consume: EventConsumer) -> None:
        self.partition = partition
        self._group = group
        self._consume = consume
        self._condition = threading.Condition()
        self._queue: deque[Message] = deque()
        self._stopped = threading.Event()
        # The next offset to deliver: everything below it has finished. None until known.
        self.finished: int | None = partition.offset if partition.offset >= 0 else None
        self.committed = self.finished
        self.paused = False
        self._thread = threading.Thread(
            target=self._run, name=f"{group}-{partition.partition}", daemon=True
        )
        self._thread.start()

    def offer(self, message: Message) -> None:
        with self._condition:
            if self.finished is None:
                self.finished = message.offset()
            self._queue.append(message)
            self._condition.notify()

    @property
    def queued(self) -> int:
        with self._condition:
            return len(self._queue)

    def lag(self, end: int | None) -> int:
        with self._condition:
            if self.finished is None or end is None:
                return len(self._queue)
            return max(end - self.finished, len(self._queue))

    def stop(self) -> None:
        """Let the delivery in flight finish, leave the queued records to the next consumer."""
        self._stopped.set()
        with self._condition:
            self._condition.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._queue and not self._stopped.is_set():
                    self._condition.wait()
                if self._stopped.is_set():
                    return
                message = self._queue[0]
            if not self._deliver(message):
                return
            with self._condition:
                self._queue.popleft()
                self.finished = message.offset() + 1

    def _deliver(self, message: Message) -> bool:
        """True once the record is finished; False when stopped before."""
        try:
            event = decode(message.headers(), message.value())
        except (CloudEventError, ValueError) as error:
            log.error(
                "%s: record %s/%d@%d is not a CloudEvent (%s); skipped",
                self._group,
                message.topic(),
                message.partition(),
                message.offset(),
                error,
            )
            return True
        pause = RETRY_PAUSE_SECONDS
        while not self._stopped.is_set():
            try:
                self._consume(event)
            except DeliveryInterrupted:
                return False
            except Exception:
                log.exception(
                    "%s failed on event %s; retrying in %.0f s", self._group, event["id"], pause
                )
            else:
                return True
            if self._stopped.wait(pause):
                return False
            pause = min(pause * 2, MAX_RETRY_PAUSE_SECONDS)
        return False


class _TriggerConsumer:
    """One Trigger: a consumer group on its broker's topic, a poll thread that hands records to
    one worker per assigned partition and commits what the workers finished."""

    def __init__(
        self, bootstrap: str, topic: str, group: str, consume: EventConsumer, ends: _EndOffsets
    ) -> None:
        self.topic = topic
        self._ends = ends
        self.group = group
        self._consume = consume
        self._consumer = Consumer(
            {
                **client_config(bootstrap),
                "group.id": group,
                # Static membership: a restarted router takes its partitions back at once,
                # instead of waiting for the killed one's session to time out.
                "group.instance.id": f"{group}-router",
                "session.timeout.ms": 10000,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "latest",
                "on_commit": self._on_commit,
            }
        )
        self._workers: dict[int, _PartitionWorker] = {}
        self._lock = threading.Lock()
        self.assigned = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{group}-poll", daemon=True)

    def start(self) -> None:
        self._consumer.subscribe(
            [self.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._thread.start()

    def lag(self) -> int:
        """Records of the assigned partitions not yet finished."""
        with self._lock:
            workers = list(self._workers.values())
        return sum(
            worker.lag(self._ends.of(self.topic, worker.partition.partition)) for worker in workers
        )

    def close(self) -> None:
        self._closing.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                message = self._consumer.poll(POLL_SECONDS)
            except KafkaException:
                log.exception("%s: poll failed", self.group)
                continue
            if message is not None:
                self._offer(message)
            self._control_flow()
            self._note_end_offsets()
            self._commit_finished(asynchronous=True)
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.stop()
        self._commit_finished(asynchronous=False)
        self._consumer.close()

    def _offer(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            # librdkafka reconnects by itself; these say the broker is away for now.
            log.warning("%s: %s", self.group, error)
            return
        with self._lock:
            worker = self._workers.get(message.partition())
        if worker is not None:  # else revoked meanwhile: its new owner reads it
            worker.offer(message)

    def _note_end_offsets(self) -> None:
        """The end offsets of the consumer's latest fetch: it long-polls, so they follow a
        produce within milliseconds, without a request to Kafka. Read on this thread only: the
        client blocked when asked from another thread while this one polled."""
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            _low, high = self._consumer.get_watermark_offsets(worker.partition, cached=True)
            if high >= 0:
                self._ends.note(self.topic, worker.partition.partition, high)

    def _control_flow(self) -> None:
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            queued = worker.queued
            if not worker.paused and queued >= MAX_QUEUED_PER_PARTITION:
                self._consumer.pause([worker.partition])
                worker.paused = True
            elif worker.paused and queued <= MAX_QUEUED_PER_PARTITION // 2:
                self._consumer.resume([worker.partition])
                worker.paused = False

    def _commit_finished(self, *, asynchronous: bool) -> None:
        with self._lock:
            workers = list(self._workers.values())
        offsets = []
        for worker in workers:
            finished = worker.finished
            if finished is not None and finished != worker.committed:
                offsets.append(TopicPartition(self.topic, worker.partition.partition, finished))
                # Optimistic: a failed commit puts the old value back (_on_commit).
                worker.committed = finished
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except KafkaException as error:
            log.warning(
                "%s: commit failed (%s); those records may be delivered again", self.group, error
            )

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        if error is None:
            return
        # Retried on the next poll; info, as it repeats while Kafka is away.
        log.info("%s: commit failed (%s); will retry", self.group, error)
        with self._lock:
            for partition in partitions:
                worker = self._workers.get(partition.partition)
                if worker is not None and worker.committed == partition.offset:
                    worker.committed = None

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            starts = self._start_positions(consumer, partitions)
        except KafkaException as error:
            log.warning("%s: could not read committed offsets (%s)", self.group, error)
            starts = partitions
        consumer.assign(starts)
        with self._lock:
            for start in starts:
                self._workers[start.partition] = _PartitionWorker(self.group, start, self._consume)
        self.assigned.set()

    def _start_positions(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> list[TopicPartition]:
        committed = consumer.committed(partitions, timeout=KAFKA_CALL_TIMEOUT_SECONDS)
        new = [partition for partition in committed if partition.offset < 0]
        for partition in new:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition.partition), timeout=KAFKA_CALL_TIMEOUT_SECONDS
            )
            partition.offset = high
        if new:
            consumer.commit(offsets=new, asynchronous=False)
        return committed

    def _stop_workers(self, partitions: list[TopicPartition]) -> list[_PartitionWorker]:
        with self._lock:
            stopped = [
                self._workers.pop(p.partition) for p in partitions if p.partition in self._workers
            ]
        for worker in stopped:
            worker.stop()
        return stopped

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # The group already gave these partitions away (the session timed out while Kafka was
        # away): a commit would be refused, and their next owner redelivers the unfinished ones.
        self._stop_workers(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = self._stop_workers(partitions)
        offsets = [
            TopicPartition(self.topic, worker.partition.partition, worker.finished)
            for worker in revoked
            if worker.finished is not None and worker.finished != worker.committed
        ]
        if offsets:
            try:
                consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as error:
                log.warning("%s: commit at revocation failed (%s)", self.group, error)


class KafkaEventLog:
    """The EventLog on a Kafka cluster at `bootstrap`; consumer groups are `group_prefix` + the
    Trigger's name. One router per group prefix: static membership fences a second one."""

    def __init__(self, bootstrap: str, *, group_prefix: str) -> None:
        self._bootstrap = bootstrap
        self._group_prefix = group_prefix
        self._producer = Producer(
            {
                **client_config(bootstrap),
                "enable.idempotence": True,
                "acks": "all",
                "partitioner": "fnv1a",
                "message.timeout.ms": int(PRODUCE_TIMEOUT_SECONDS * 1000),
                "linger.ms": 1,
            }
        )
        self._triggers: list[_TriggerConsumer] = []
        self._ends = _EndOffsets()
        self._closing = threading.Event()
        self._delivery_reports = threading.Thread(
            target=self._serve_delivery_reports, name="kafka-producer", daemon=True
        )
        self._delivery_reports.start()

    def append(self, broker: str, event: CloudEvent) -> None:
        headers, value = encode(event)
        key = event.get(PARTITION_KEY)
        acknowledged: Future[None] = Future()

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is None:
                self._ends.note(broker, message.partition(), message.offset() + 1)
                acknowledged.set_result(None)
            else:
                acknowledged.set_exception(EventLogUnavailable(f"Kafka refused it: {error}"))

        try:
            self._producer.produce(
                broker,
                key=None if key is None else str(key).encode(),
                value=value,
                headers=headers,
                on_delivery=on_delivery,
            )
            acknowledged.result(timeout=PRODUCE_TIMEOUT_SECONDS + 1)
        except (BufferError, KafkaException) as error:
            raise EventLogUnavailable(f"Kafka refused it: {error}") from None
        except FutureTimeout:
            raise EventLogUnavailable("Kafka did not acknowledge it in time") from None

    def subscribe(self, broker: str, group: str, consumer: EventConsumer, *, ordered: bool) -> None:
        self._triggers.append(
            _TriggerConsumer(
                self._bootstrap, broker, f"{self._group_prefix}{group}", consumer, self._ends
            )
        )

    def start(self) -> None:
        self._check_topics({trigger.topic for trigger in self._triggers})
        for trigger in self._triggers:
            trigger.start()
        for trigger in self._triggers:
            if not trigger.assigned.wait(ASSIGNMENT_TIMEOUT_SECONDS):
                raise RuntimeError(
                    f"consumer group {trigger.group} got no partitions of {trigger.topic} from"
                    f" Kafka at {self._bootstrap} within {ASSIGNMENT_TIMEOUT_SECONDS:.0f} s"
                )
        log.info(
            "Kafka at %s: %d consumer groups (%s*)",
            self._bootstrap,
            len(self._triggers),
            self._group_prefix,
        )

    def backlog(self) -> int:
        """Records in the Triggers' topics whose delivery has not finished (consumer lag)."""
        return sum(trigger.lag() for trigger in self._triggers)

    def close(self) -> None:
        for trigger in self._triggers:
            trigger.close()
        self._closing.set()
        self._delivery_reports.join()
        self._producer.flush(PRODUCE_TIMEOUT_SECONDS)

    def _serve_delivery_reports(self) -> None:
        while not self._closing.is_set():
            self._producer.poll(POLL_SECONDS)

    def _check_topics(self, topics: set[str]) -> None:
        try:
            metadata = self._producer.list_topics(timeout=KAFKA_CALL_TIMEOUT_SECONDS)
        except KafkaException as error:
            raise RuntimeError(f"Kafka at {self._bootstrap} does not answer: {error}") from None
        missing = sorted(topics - set(metadata.topics))
        if missing:
            raise RuntimeError(
                f"Kafka at {self._bootstrap} has no topic {', '.join(missing)}:"
                " create it (scripts/kafka.sh topics)"
            )
