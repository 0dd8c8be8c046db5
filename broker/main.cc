// signalbus-broker: flags, signals and exit codes around signalbus::broker::Broker.
// Prints one "signalbus-broker ready ..." line on stdout once everything is bound.
#include <algorithm>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "signalbus/broker/broker.h"
#include "signalbus/core/cli.h"
#include "signalbus/core/duration.h"
#include "signalbus/core/endpoints.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/shutdown.h"

namespace {

constexpr const char* kProgram = "signalbus-broker";

const CLI::Validator kEndpoint(
    [](std::string& value) {
      signalbus::Status s = signalbus::ValidateEndpoint(value);
      return s.ok() ? std::string() : s.message();
    },
    "ENDPOINT");

const CLI::Validator kMetricsAddress(
    [](std::string& value) {
      if (value == signalbus::broker::kMetricsOff) return std::string();
      auto parsed = signalbus::broker::ParseMetricsAddress(value);
      return parsed.ok() ? std::string() : parsed.status().message();
    },
    "HOST:PORT|off");

const CLI::Validator kSyncPolicy(
    [](std::string& value) {
      auto parsed = signalbus::eventlog::ParseSyncPolicy(value);
      return parsed.ok() ? std::string() : parsed.status().message();
    },
    "always|interval:DURATION|never");

const CLI::Validator kDuration(
    [](std::string& value) {
      auto parsed = signalbus::ParseDuration(value);
      return parsed.ok() ? std::string() : parsed.status().message();
    },
    "DURATION");

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"signalbus broker: validates published events, logs them durably, confirms them to their "
               "publishers, and delivers them to consumer groups and live listeners.",
               kProgram};
  std::string ingest(signalbus::kDefaultIngestEndpoint);
  std::string ingest_pub;  // off
  std::string live(signalbus::kDefaultLiveEndpoint);
  std::string groups(signalbus::kDefaultGroupsEndpoint);
  std::string metrics(signalbus::kDefaultMetricsAddress);
  std::size_t max_event_bytes = signalbus::kDefaultMaxEventBytes;
  std::string log_level = "info";
  std::string data_dir = "var/broker";
  std::string fsync = "always";
  int fsync_gap_us = static_cast<int>(signalbus::eventlog::kDefaultSyncGap.count());
  std::uint64_t segment_bytes = signalbus::eventlog::kDefaultSegmentBytes;
  std::uint64_t retention_bytes = 0;
  std::string retention_age = "0";
  std::string dedupe_window = "2m";
  std::size_t max_publishers = 10'000;
  std::size_t max_publishers_per_principal = 1'000;
  std::size_t max_batch_events = signalbus::kDefaultMaxBatchEvents;
  std::size_t max_batch_bytes = signalbus::kDefaultMaxBatchBytes;
  std::size_t publisher_window = 65'536;
  int ingest_queue = 1000;
  bool skip_corrupt = false;
  signalbus::broker::LiveOptions live_limits;
  std::string live_max_heartbeat = "30s";
  app.add_option("--data-dir", data_dir, "Directory of the durable log")
      ->envname("SIGNALBUS_DATA_DIR")
      ->capture_default_str();
  app.add_option("--fsync", fsync,
                 "When events are made durable before they are confirmed: always (group commit), "
                 "interval:10ms, or never (tests only: a crash loses confirmed events)")
      ->check(kSyncPolicy)
      ->capture_default_str();
  app.add_option("--fsync-gap-us", fsync_gap_us,
                 "Under --fsync always: the least time in microseconds between two fdatasyncs, so that the "
                 "disk is never asked for more syncs a second than its IOPS allow (0: back to back)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--segment-bytes", segment_bytes, "Log segment size")
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--retention-bytes", retention_bytes, "Delete the oldest segments past this total (0: keep all)")
      ->capture_default_str();
  app.add_option("--retention-age", retention_age, "Delete segments older than this, e.g. 168h for a week (0: keep)")
      ->check(kDuration)
      ->capture_default_str();
  app.add_option("--dedupe-window", dedupe_window,
                 "How long an idle publisher id is remembered, and how far back re-sent events are recognised "
                 "after a restart")
      ->check(kDuration)
      ->capture_default_str();
  app.add_option("--max-publishers", max_publishers,
                 "Publisher ids remembered at once; a hello for one more is refused (too_many_publishers)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--max-publishers-per-principal", max_publishers_per_principal,
                 "With CURVE on: the most of those one principal may hold, so that one service inventing ids "
                 "cannot lock the others out (0: no bound of its own)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--publisher-window", publisher_window,
                 "Recent event ids remembered per publisher id (16 bytes each), to tell a re-send from a new "
                 "event reusing its sequence; at least any publisher's unconfirmed window")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24))
      ->capture_default_str();
  app.add_option("--max-batch-events", max_batch_events, "Most events in one publish batch")
      ->check(CLI::Range(std::size_t{1}, signalbus::eventlog::kMaxBatchEvents))
      ->capture_default_str();
  app.add_option("--max-batch-bytes", max_batch_bytes,
                 "Most bytes of topics and events in one publish batch (at least --max-event-bytes)")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{64} << 20))
      ->capture_default_str();
  app.add_option("--ingest-queue", ingest_queue,
                 "Messages queued per publisher connection before ZeroMQ stops reading it (times the largest "
                 "frame: what one publisher can make the broker buffer)")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  app.add_flag("--skip-corrupt", skip_corrupt,
               "Start even if the log has damaged records (they are reported and never delivered)");
  app.add_option("--ingest", ingest, "Endpoint publishers connect to (ROUTER)")
      ->envname(signalbus::kIngestEnv)
      ->check(kEndpoint)
      ->capture_default_str();
  app.add_option("--ingest-pub", ingest_pub,
                 "Also accept fire-and-forget events from plain ZeroMQ PUB sockets here (XSUB; off by default): "
                 "not confirmed, not deduplicated")
      ->check(kEndpoint);
  app.add_option("--live", live, "Endpoint live listeners connect to (ROUTER)")
      ->envname(signalbus::kLiveEnv)
      ->check(kEndpoint)
      ->capture_default_str();
  app.add_option("--groups", groups, "Endpoint consumer-group members and signalbus-admin connect to (ROUTER)")
      ->envname(signalbus::kGroupsEnv)
      ->check(kEndpoint)
      ->capture_default_str();
  // Consumer groups: what one peer may make the broker keep (docs/consumer-groups.md).
  signalbus::broker::BrokerOptions defaults;
  signalbus::groups::CoordinatorOptions group_limits = defaults.groups;
  int groups_peer_queue = defaults.groups_peer_queue;
  app.add_option("--max-groups", group_limits.max_groups, "Consumer groups in total; a Join creating one more is refused")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--max-group-members", group_limits.max_members, "Members of one consumer group at once")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  std::size_t max_group_members_per_principal = defaults.max_group_members_per_principal;
  app.add_option("--max-group-members-per-principal", max_group_members_per_principal,
                 "With CURVE on: members one principal may have in all groups together (0: no bound of its own)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--max-group-subscriptions", group_limits.max_subscriptions,
                 "Subscription patterns of one consumer group (each at most 255 bytes)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000}))
      ->capture_default_str();
  app.add_option("--max-member-window-bytes", group_limits.max_window_bytes,
                 "Most bytes of events a group member may hold unacknowledged (its Join asks; 0 there gets "
                 "min(8 MiB, this))")
      ->check(CLI::Range(std::uint64_t{1024}, std::uint64_t{1} << 30))
      ->capture_default_str();
  app.add_option("--groups-peer-queue", groups_peer_queue,
                 "Replies queued per connection on the groups endpoint before more are dropped and counted")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--metrics", metrics, "HTTP address for /metrics and /healthz (port 0: any; off: none)")
      ->envname(signalbus::kMetricsEnv)
      ->check(kMetricsAddress)
      ->capture_default_str();
  app.add_option("--max-event-bytes", max_event_bytes, "Largest event frame accepted")
      ->check(CLI::Range(std::size_t{1}, std::size_t{256} << 20))
      ->capture_default_str();
  app.add_option("--live-max-listeners", live_limits.max_listeners,
                 "Live listeners at once; more are refused (too_many_listeners)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  std::size_t live_per_principal = defaults.max_live_listeners_per_principal;
  app.add_option("--live-max-listeners-per-principal", live_per_principal,
                 "With CURVE on: live listeners one principal may hold (0: no bound of its own)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1'000'000}))
      ->capture_default_str();
  std::uint64_t live_window_per_principal = defaults.live_window_bytes_per_principal;
  app.add_option("--live-window-bytes-per-principal", live_window_per_principal,
                 "With CURVE on: live window bytes one principal's listeners may hold together (0: no bound of "
                 "its own)")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--live-max-patterns", live_limits.max_patterns,
                 "Topic patterns one live listener may hold; more are refused (too_many_patterns)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
      ->capture_default_str();
  app.add_option("--live-max-window-bytes", live_limits.max_window_bytes,
                 "The largest window granted to one live listener: the most the broker holds for it; events that "
                 "do not fit are dropped for it and counted")
      ->check(CLI::Range(signalbus::broker::kMinLiveWindowBytes, std::uint64_t{1} << 30))
      ->capture_default_str();
  app.add_option("--live-total-window-bytes", live_limits.total_window_bytes,
                 "All live listeners' windows together; a listener is refused when none is left (no_window_left)")
      ->check(CLI::Range(signalbus::broker::kMinLiveWindowBytes, std::uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--live-max-heartbeat", live_max_heartbeat,
                 "The longest heartbeat interval granted to a live listener; one silent for three is forgotten")
      ->check(kDuration)
      ->capture_default_str();
  std::string curve_key_file;
  std::string allow_list_file;
  app.add_option("--curve-key-file", curve_key_file,
                 "The broker's CURVE secret key file (signalbus-keygen; mode 0600): CURVE on every endpoint, "
                 "clients authenticated against --allow-list (docs/security.md)")
      ->envname("SIGNALBUS_BROKER_KEY_FILE");
  app.add_option("--allow-list", allow_list_file,
                 "TOML file of the client keys allowed in, the principal each is, and what each may publish, read, "
                 "join and administer; reloaded on SIGHUP")
      ->envname("SIGNALBUS_ALLOW_LIST");
  std::string curve_next_key_file, ingest_next, ingest_pub_next, live_next, groups_next;
  app.add_option("--curve-next-key-file", curve_next_key_file,
                 "Rotating the broker's key: the next key's secret file, served on the --*-next endpoints while "
                 "--curve-key-file keeps the others (docs/security.md)")
      ->envname("SIGNALBUS_BROKER_NEXT_KEY_FILE");
  app.add_option("--ingest-next", ingest_next, "With --curve-next-key-file: the ingest endpoint of the next key");
  app.add_option("--ingest-pub-next", ingest_pub_next,
                 "With --curve-next-key-file and --ingest-pub: its endpoint for the next key");
  app.add_option("--live-next", live_next, "With --curve-next-key-file: the live endpoint of the next key");
  app.add_option("--groups-next", groups_next, "With --curve-next-key-file: the groups endpoint of the next key");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return signalbus::ReportParseError(app, e);
  }

  if (signalbus::Status s = signalbus::InitLogging(kProgram, log_level); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", kProgram, s.message().c_str());
    return signalbus::kExitUsage;
  }
  signalbus::InstallShutdownHandlers();
  signalbus::InstallReloadHandler();

  signalbus::broker::BrokerOptions options;
  options.ingest_endpoint = ingest;
  options.ingest_pub_endpoint = ingest_pub;
  options.live_endpoint = live;
  options.groups_endpoint = groups;
  options.groups = group_limits;
  options.groups_peer_queue = groups_peer_queue;
  if (metrics != signalbus::broker::kMetricsOff) {
    options.metrics = signalbus::broker::ParseMetricsAddress(metrics).value();  // checked by the flag
  }
  options.max_event_bytes = max_event_bytes;
  options.max_publishers = max_publishers;
  options.max_publishers_per_principal = max_publishers_per_principal;
  options.max_group_members_per_principal = max_group_members_per_principal;
  options.max_live_listeners_per_principal = live_per_principal;
  options.live_window_bytes_per_principal = live_window_per_principal;
  options.publisher_verify_window = publisher_window;
  options.ingest_queue_messages = ingest_queue;
  options.max_batch_events = max_batch_events;
  options.max_batch_bytes = std::max(max_batch_bytes, max_event_bytes + 65536);
  options.live = live_limits;
  options.live.max_heartbeat = std::max(signalbus::broker::kMinLiveHeartbeat,
                                        signalbus::ParseDuration(live_max_heartbeat).value());  // checked by the flag
  options.journal.data_dir = data_dir;
  options.journal.sync = signalbus::eventlog::ParseSyncPolicy(fsync).value();  // checked by the flag
  options.journal.sync.min_gap = std::chrono::microseconds(fsync_gap_us);
  options.journal.segment_bytes = segment_bytes;
  options.journal.retention.max_bytes = retention_bytes;
  options.journal.retention.max_age = signalbus::ParseDuration(retention_age).value();
  options.journal.dedupe_window = signalbus::ParseDuration(dedupe_window).value();
  options.journal.skip_corrupt = skip_corrupt;
  options.curve_key_file = curve_key_file;
  options.allow_list_file = allow_list_file;
  options.curve_next_key_file = curve_next_key_file;
  options.ingest_next_endpoint = ingest_next;
  options.ingest_pub_next_endpoint = ingest_pub_next;
  options.live_next_endpoint = live_next;
  options.groups_next_endpoint = groups_next;

  signalbus::broker::Broker broker(options);
  if (signalbus::Status s = broker.Start(); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", kProgram, s.message().c_str());
    return signalbus::kExitFailure;
  }
  std::string next;  // the next key's endpoints, while it is rotated
  if (!broker.ingest_next_endpoint().empty()) {
    next = " ingest_next=" + broker.ingest_next_endpoint() + " live_next=" + broker.live_next_endpoint() +
           " groups_next=" + broker.groups_next_endpoint();
    if (!ingest_pub.empty()) next += " ingest_pub_next=" + broker.ingest_pub_next_endpoint();
  }
  std::printf("%s ready ingest=%s live=%s groups=%s metrics=%s%s%s\n", kProgram, broker.ingest_endpoint().c_str(),
              broker.live_endpoint().c_str(), broker.groups_endpoint().c_str(), broker.metrics_url().c_str(),
              ingest_pub.empty() ? "" : (" ingest_pub=" + broker.ingest_pub_endpoint()).c_str(), next.c_str());
  std::fflush(stdout);

  signalbus::Status run = broker.Run();
  broker.Stop();
  if (!run.ok()) {
    spdlog::error("{}", run.message());
    return signalbus::kExitFailure;
  }
  return 0;
}
