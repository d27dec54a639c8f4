"""The one settings object. Only the CLI reads it from the environment, and the
composition roots (``streams.bootstrap``, ``engine.compose``) turn it into the values
each component receives as arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.catalogue import BY_SETTING
from schemas.errors import ConfigError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class WebhookRoute(BaseModel):
    """One notification endpoint and the alerts it wants (unset filters match every alert).

    >>> WebhookRoute(url="http://127.0.0.1:9/hook", segment="high").format
    'json'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(default="", max_length=100, description="Label in logs and metrics; defaults to the URL's host.")
    url: str = Field(pattern=r"^https?://", description="Where alerts are POSTed.")
    owner: str | None = Field(default=None, description="Only alerts owned by (assigned to) this person.")
    segment: Literal["high", "mid", "low"] | None = Field(default=None, description="Only alerts of this value segment.")
    min_tier: Literal["watch", "high", "critical"] = Field(default="watch", description="Only alerts of this tier or above.")
    format: Literal["json", "slack"] = Field(default="json", description="json: the alert; slack: an incoming-webhook message.")


class Settings(BaseSettings):
    """All configuration, read from ``CHURN_*`` environment variables.

    >>> Settings(threshold_watch=0.5).threshold_watch
    0.5
    """

    model_config = SettingsConfigDict(env_prefix="CHURN_", frozen=True, extra="forbid")

    # --- services
    bootstrap_servers: str | None = Field(default=None, description="Kafka bootstrap, host:port[,host:port]. Unset: `demo` and the "
                                          "tests start the embedded broker; `worker` refuses to start unless given --embed-broker.")
    broker_wait_s: float = Field(default=300.0, ge=0, description="How long a starting worker waits for a broker that "
                                 "does not answer yet, retrying with backoff, before it gives up.")
    embedded_broker: bool = Field(default=False, description="The broker is the embedded Tansu one (set when it is started): "
                                  "enables its workarounds, never needed on Kafka.")
    redis_url: str = Field(default=DEFAULT_REDIS_URL, description="Redis URL; the default starts an embedded redis-server when nothing answers.")
    redis_password: SecretStr | None = Field(default=None, description="Redis password, if not in the URL.")
    redis_prefix: str = Field(default="churn", description="Prefix of every Redis key we write.")
    redis_timeout_s: float = Field(default=5.0, gt=0, description="A Redis call not answered in this long counts as Redis "
                                   "being away: the work that needs it pauses and retries.")
    app_id: str = Field(default="churn-alert", description="Faust app id = consumer group.")
    role: Literal["all", "stream", "learner"] = Field(
        default="all", description="all: customer agents and the learner in one group (demo, one machine); stream: "
                                   "customer agents only; learner: the learner only, in its own group <app_id>-learner.")
    log_level: Literal["debug", "info", "warn", "error"] = "warn"

    # --- topics (defaults from the catalogue in schemas/catalogue.py; topic_prefix namespaces them all, e.g. per test run)
    topic_prefix: str = ""
    topic_orders: str = BY_SETTING["orders"].default
    topic_support: str = BY_SETTING["support"].default
    topic_activity: str = BY_SETTING["activity"].default
    topic_profiles: str = BY_SETTING["profiles"].default
    topic_outcomes: str = BY_SETTING["outcomes"].default
    topic_erasure: str = BY_SETTING["erasure"].default
    topic_alerts: str = BY_SETTING["alerts"].default
    topic_offers: str = BY_SETTING["offers"].default
    topic_dead_letter: str = BY_SETTING["dead_letter"].default
    topic_labels: str = BY_SETTING["labels"].default
    topic_ticks: str = BY_SETTING["ticks"].default
    topic_erasure_done: str = BY_SETTING["erasure_done"].default
    partitions: int = Field(default=4, ge=1, description="Partition count of every keyed topic (co-partitioned).")

    # --- state
    store: Literal["memory", "rocksdb"] = Field(default="memory", description="Table store: memory (tests, demo) or rocksdb (production).")
    data_dir: Path = Field(default=Path("./churn-data"), description="Where rocksdb tables live.")
    # RocksDB memory of the worker's table, in total over the partitions it holds (each partition is its
    # own database; they share one cache and one memtable budget, streams/store.py). Faust's defaults
    # (64 MB write buffers x 3, a 2 GB block cache, each per partition) are not a bound on one machine.
    rocksdb_write_buffer_mb: int = Field(default=8, ge=1, description="RocksDB memtable size, MB: writes to a "
                                         "partition collect here until flushed to disk.")
    rocksdb_write_buffers: int = Field(default=2, ge=2, description="RocksDB memtables per partition (one filling, "
                                       "the others being flushed).")
    rocksdb_memtables_mb: int = Field(default=16, ge=1, description="RocksDB memtables of all partitions together, MB: "
                                      "nearing it, memtables are flushed to disk early.")
    rocksdb_block_cache_mb: int = Field(default=16, ge=1, description="RocksDB block cache shared by all partitions, "
                                        "MB: blocks of table files read (records not in a memtable), and the files' "
                                        "index and filter blocks.")
    rocksdb_max_open_files: int = Field(default=256, ge=16, description="RocksDB open table files per partition (their "
                                        "index and filter blocks are held in the block cache).")

    # --- time
    clock: Literal["wall", "event"] = Field(default="wall", description="What drives the silence sweep: wall clock (live) or the partition watermark (replay).")
    sweep_interval_s: float = Field(default=2.0, gt=0, description="Live sweep period.")
    max_future_s: float = Field(default=3600.0, ge=0, description="Events further ahead of wall clock than this are dead-lettered.")
    erasure_marker_s: float = Field(default=7 * 86_400.0, gt=0, description="How long an erased customer's marker "
                                    "(their input positions, no personal data) stays in the table, so that their "
                                    "messages read again after a crash are dropped, not made into a customer anew. "
                                    "It goes once this long has passed on the wall clock, and on the event clock too, "
                                    "or at their next new event. Keep it well beyond the commit interval and any outage.")
    max_message_bytes: int = Field(default=262_144, gt=0, description="Larger payloads are dead-lettered (keep below the broker's own message limit).")
    dead_letter_raw_bytes: int = Field(default=65_536, gt=0, description="Raw bytes kept in a dead-letter record.")

    # --- model and labels
    horizon_days: float = Field(default=30.0, gt=0, description="Silence this long after a snapshot makes it a positive label.")
    label_rule: Literal["silence", "stops"] = Field(
        default="silence", description="silence: a snapshot is positive when the horizon after it passes in silence "
                                       "(is the customer already gone?); stops: when a horizon's silence begins within "
                                       "it (will this active customer leave within the horizon?) — for app-centred "
                                       "products whose churners do not fade first.")
    snapshot_interval_days: float = Field(default=7.0, gt=0, description="At most one pending snapshot per customer per interval.")
    min_labels: int = Field(default=200, ge=0, description="Labels the model must have seen before it replaces the rule-based prior.")
    publish_every: int = Field(default=200, ge=1, description="Learner publishes a model version every N examples.")
    model_poll_s: float = Field(default=2.0, gt=0, description="How often scorers look for a newer model version.")

    app_features: str = Field(default="", description="Comma-separated app features that get model features of their "
                              "own (at most 12); empty: the vocabulary is learnt from the stream.")

    # --- alert policy
    threshold_watch: float = Field(default=0.5, ge=0, le=1)
    threshold_high: float = Field(default=0.7, ge=0, le=1)
    threshold_critical: float = Field(default=0.85, ge=0, le=1)
    hysteresis: float = Field(default=0.05, ge=0, le=0.5, description="A tier is left only below its threshold minus this.")
    tier_mode: Literal["share", "fixed", "precision", "capacity"] = Field(
        default="share", description="share (default): once the model is in use, watch/high/critical flag the top "
                                     "tier_top_share, half and a fifth of it of the resolved snapshots' scores, whatever "
                                     "the base rate; fixed: the thresholds above; precision / capacity: set by the "
                                     "learner from the resolved labels. All but fixed are used with the model that "
                                     "published them (the prior keeps the fixed ones).")
    tier_top_share: float = Field(default=0.1, gt=0, lt=1, description="share mode: share of customers at watch or above.")
    tier_target_precision: float = Field(default=0.6, gt=0, le=1, description="precision mode: watch tier's alert precision "
                                         "(high and critical aim a third and two thirds of the way on to 1).")
    tier_daily_capacity: float = Field(default=200.0, gt=0, description="capacity mode: watch alerts per day the team "
                                       "can handle (high half of it, critical a quarter).")
    cooldown_days: float = Field(default=7.0, ge=0, description="No new alert episode for a customer within this after the last one ended.")
    control_share: float = Field(default=0.10, ge=0, le=1, description="Share of alerted customers held out as control.")
    policy_file: Path | None = Field(default=None, description="Offer policy YAML; unset uses the packaged default.")
    approval_above: float = Field(default=100.0, ge=0, description="Offers worth more wait for an agent's approval.")

    # --- ops
    metrics_port: int | None = Field(default=None, description="Port of the Prometheus /metrics endpoint; unset: none.")
    lag_interval_s: float = Field(default=5.0, gt=0, description="How often a worker measures its consumer lag "
                                  "(churn_consumer_lag_messages): a query of the broker's end offsets.")

    # --- retention-team service (churn-alert api)
    database_url: SecretStr | None = Field(default=None, description="PostgreSQL URL of the team's data; unset: the "
                                           "default local server, else an embedded one.")
    api_host: str = Field(default="127.0.0.1", description="Address the team service listens on.")
    api_port: int = Field(default=8080, ge=0, le=65535, description="Port of the team service (0: any free port).")
    api_group: str = Field(default="churn-alert-api", description="Consumer group of the team service.")
    api_public_url: str | None = Field(default=None, description="Dashboard address used in notifications; unset: http://api_host:api_port.")
    pseudonym_key: SecretStr | None = Field(default=None, description="Key of the analysts' stable customer pseudonyms; "
                                            "unset: one generated once and kept in the database.")
    webhooks: tuple[WebhookRoute, ...] = Field(default=(), description="Notification endpoints, as JSON "
                                               '(CHURN_WEBHOOKS=\'[{"url": "https://hooks.slack.com/...", "format": "slack"}]\').')
    webhook_timeout_s: float = Field(default=5.0, gt=0, description="One delivery attempt's time limit.")
    webhook_backoff_s: float = Field(default=1.0, gt=0, description="First retry delay; doubles per failed attempt.")
    webhook_backoff_max_s: float = Field(default=60.0, gt=0, description="Longest retry delay.")

    # --- throughput (bench/throughput.py measures them)
    batch_max: int = Field(default=1000, ge=1, description="The customer agent handles up to this many messages at a time "
                           "(each customer's record written once per batch).")
    batch_within_s: float = Field(default=0.02, gt=0, description="... or what arrived within this time, whichever is first.")
    producer_linger_s: float = Field(default=0.005, ge=0, description="How long the producer waits to fill a batch "
                                     "(changelog records, labels, alerts and offers of a batch go out in a few requests).")
    producer_batch_bytes: int = Field(default=256 * 1024, ge=16 * 1024, description="Largest producer batch per partition.")
    stream_buffer: int = Field(default=16_384, ge=1, description="Messages Faust buffers per input partition ahead of the agent.")
    poll_records: int = Field(default=100, ge=1, description="Records the consumer hands over at a time, taking its "
                              "partitions in turn: a burst fetched on one partition does not hold the others back.")
    prefetch_backoff_s: float = Field(default=0.02, gt=0, description="While some partitions' fetched records wait to "
                                      "be handed over, the others are fetched again after this long (aiokafka's: 0.1 s).")
    fetch_max_wait_s: float = Field(default=0.05, gt=0, le=30, description="Longest a consumer's fetch waits at the broker "
                                    "when there is nothing to read (Faust's is fixed at 1.5 s). A broker that does not "
                                    "answer a waiting fetch when records arrive (the embedded one) holds them this long.")

    # --- Faust tuning: join the group in seconds, not the default ~30 s
    rebalance_timeout_s: float = 6.0
    session_timeout_s: float = 6.0
    heartbeat_interval_s: float = 1.0

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Settings:
        if not self.threshold_watch < self.threshold_high < self.threshold_critical:
            raise ValueError("thresholds must satisfy threshold_watch < threshold_high < threshold_critical")
        return self

    def with_updates(self, **changes: object) -> Settings:
        """A variant with ``changes``, validated like the environment is (``model_copy`` is not).

        >>> Settings().with_updates(horizon_days=-5)
        Traceback (most recent call last):
        ...
        schemas.errors.ConfigError: invalid setting horizon_days: Input should be greater than 0 (got -5)
        """
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        try:
            return type(self).model_validate({**dict(self), **changes})
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            raise ConfigError(f"invalid setting {where}: {err['msg']}" + (f" (got {err['input']!r})" if err["loc"] else "")) from None

    def topic(self, name: str) -> str:
        """Full name of a topic setting, e.g. ``topic("orders")`` → ``"<prefix>orders"``."""
        return self.topic_prefix + getattr(self, f"topic_{name}")
